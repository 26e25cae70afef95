"""The SMTP server PartnerGate's TLS delivery tests start.

    python3 server.py <starttls|smtps> <port> <maildir> <cert.pem> <key.pem> <user> <password>

It listens on 127.0.0.1:<port>, speaks STARTTLS (required before anything
else) or TLS from the first byte (SMTPS), requires AUTH with the given user
and password, stores each message in <maildir> and prints `READY` once
listening.
"""

import asyncio
import ssl
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main() -> None:
    mode, port, maildir, cert, key, user, password = sys.argv[1:8]
    if mode not in ("starttls", "smtps"):
        sys.exit(f"unknown mode {mode}: use starttls or smtps")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok)

    handler = Mailbox(maildir)

    def factory() -> SMTP:
        if mode == "starttls":
            return SMTP(
                handler,
                hostname="localhost",
                tls_context=context,
                require_starttls=True,
                authenticator=authenticator,
                auth_required=True,
            )
        # The whole connection is TLS already.
        return SMTP(
            handler,
            hostname="localhost",
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
        )

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, "127.0.0.1", int(port), ssl=context if mode == "smtps" else None
        )
        print("READY", flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
