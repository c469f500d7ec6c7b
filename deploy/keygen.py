"""Create the token signing key pair once (docker compose runs this before the services).

Usage: python deploy/keygen.py DIRECTORY — writes jwt-private.pem and jwt-public.pem there
unless they already exist.
"""

import sys
from pathlib import Path

from helpdesk_common.auth import ensure_keypair


def main(directory: Path) -> None:
    _, _, made = ensure_keypair(directory)
    state = "new signing keys written to" if made else "signing keys already in"
    print(f"{state} {directory}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/keys"))
