"""Create the token signing key pair once (docker compose runs this before the services).

Usage: python deploy/keygen.py DIRECTORY — writes jwt-private.pem and jwt-public.pem there
unless they already exist.
"""

import sys
from pathlib import Path

from helpdesk_common.auth import generate_keypair


def main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if private.exists() and public.exists():
        print(f"signing keys already in {directory}")
        return
    private_pem, public_pem = generate_keypair()
    private.write_text(private_pem)
    private.chmod(0o600)
    public.write_text(public_pem)
    print(f"new signing keys written to {directory}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/keys"))
