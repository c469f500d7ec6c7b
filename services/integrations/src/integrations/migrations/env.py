from helpdesk_common.migrations import run_env
from integrations.models import metadata

run_env(metadata)
