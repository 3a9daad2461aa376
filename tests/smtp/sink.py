"""An SMTP server for the notification tests (aiosmtpd): every message it accepts is written
to DIR as a numbered .eml file (atomically: written as .tmp, then renamed), with a .json
beside it saying how it came (TLS or not, the login it was sent under).

usage: sink.py HOST PORT DIR [--starttls | --tls] [--cert PEM --key PEM]
                             [--auth USER:PASSWORD --mechanism LOGIN|PLAIN]

--starttls: STARTTLS offered and required before anything else; --tls: TLS from the first
byte (SMTPS). --auth: AUTH required (only over TLS) for that one login, by that mechanism
only. Prints "ready" once it accepts connections; runs until killed.
"""

import argparse
import asyncio
import itertools
import json
import os
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MECHANISMS = ("LOGIN", "PLAIN")


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.count)
        path = os.path.join(self.directory, f"{n:04d}")
        tls = session.ssl is not None or (
            server.transport is not None
            and server.transport.get_extra_info("ssl_object") is not None
        )
        login = session.auth_data.login.decode() if session.authenticated else None
        with open(path + ".json.tmp", "w") as f:
            json.dump({"tls": tls, "login": login}, f)
        os.rename(path + ".json.tmp", path + ".json")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path + ".eml")
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("directory")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--starttls", action="store_true")
    mode.add_argument("--tls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    p.add_argument("--mechanism", choices=MECHANISMS, default="PLAIN")
    a = p.parse_args()
    os.makedirs(a.directory, exist_ok=True)

    kwargs = {}
    if a.starttls or a.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
        if a.starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if a.auth:
        user, password = a.auth.split(":", 1)
        kwargs.update(
            authenticator=authenticator(user, password),
            auth_required=True,
            auth_exclude_mechanism=[m for m in MECHANISMS if m != a.mechanism],
            # aiosmtpd counts only STARTTLS as TLS: under SMTPS the whole session is.
            auth_require_tls=not a.tls,
        )
    controller = Controller(Sink(a.directory), hostname=a.host, port=a.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
