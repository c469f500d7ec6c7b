from helpdesk_common.migrations import run_env
from tickets.models import metadata

run_env(metadata)
