"""The identity service: ``uvicorn identity.main:create_app --factory``."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from helpdesk_common.app import create_service_app
from helpdesk_common.runtime import Runtime
from identity.audit.views import router as audit_router
from identity.auth.views import router as auth_router
from identity.bootstrap import ensure_admin
from identity.housekeeping import housekeeping
from identity.organisation.views import router as organisation_router
from identity.runtime import IdentityRuntime
from identity.settings import IdentitySettings
from identity.tokens import resolve_signing_keys
from identity.units.views import router as units_router
from identity.users.service import user_standing
from identity.users.views import router as users_router

log = logging.getLogger("identity")

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    settings.check_secrets()
    settings, key_generated = resolve_signing_keys(settings)

    async def build_runtime(base: Runtime) -> IdentityRuntime:
        if key_generated:
            log.warning(
                "no jwt_private_key configured: signing with a throw-away key; other "
                "services cannot verify these tokens (set IDENTITY_JWT_PRIVATE_KEY_FILE)"
            )
        runtime = IdentityRuntime.build(base, settings)
        await ensure_admin(runtime.sessionmaker, runtime)
        return runtime

    app = create_service_app(
        settings=settings,
        title="Helpdesk identity",
        routers=[auth_router, users_router, units_router, organisation_router, audit_router],
        migrations=MIGRATIONS,
        build_runtime=build_runtime,
        workers=[housekeeping],
        user_standing=user_standing,
    )
    return app
