from attachments.models import metadata
from helpdesk_common.migrations import run_env

run_env(metadata)
