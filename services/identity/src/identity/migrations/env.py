from helpdesk_common.migrations import run_env
from identity.models import Base
from identity.organisation import models as _organisation  # noqa: F401 (its table in Base)

run_env(Base.metadata)
