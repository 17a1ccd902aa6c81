#!/usr/bin/env python3
"""The OpenID Connect provider end to end (issue 5), against independent
implementations:
- npm openid-client (a real relying party) discovers the provider and runs the
  authorization code flow with PKCE through the real sign-in page in headless
  Chromium (tests/interop/oidc_rp.mjs): password and TOTP typed in, the
  operator's one-time password changed at first sign-in, refresh with
  rotation (a reused refresh token revokes its family), revocation, client
  credentials, userinfo, end session; npm jose verifies every token against
  the JWKS.
- The AP interface accepts those tokens for the granted utility only.
- Negative matrix, each refused with its RFC 6750 status and no data: expired,
  not yet valid, wrong audience, wrong issuer, alg none, HS256 keyed with our
  public key, a kid we never issued, a revoked application, a revoked grant,
  a token of a user of another utility. Forged tokens are made with
  python3-jwcrypto, signed with the provider's own key where the check under
  test is not the signature.
- Key rotation: after POST /admin/v1/oidc/rotate-keys new tokens carry the new
  kid, the JWKS publishes both, and a token of the old key still works.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from jwcrypto import jwk, jwt  # noqa: E402

INTEROP = os.path.join(h.SOURCE, "tests", "interop")
REDIRECT = "http://127.0.0.1:9/callback"
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": %s" % (detail,)))
    if not ok:
        failures.append(name)


def ap(st, token, path="/utilities/%s/items"):
    return st.api.get(path % st.utility if "%s" in path else path, token=token)


def www_auth(st, token):
    req = urllib.request.Request(st.base_url + "/ap/v1/utilities/%s/items" % st.utility)
    req.add_header("Authorization", "Bearer " + token)
    try:
        urllib.request.urlopen(req, timeout=10, context=h.tls_context(st.pki["ca"]))
        return 200, ""
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("WWW-Authenticate", "")


def forge(st, key, claims, header=None):
    hdr = {"alg": "RS256", "typ": "at+jwt", "kid": key.key_id}  # noqa: E501
    hdr.update(header or {})
    t = jwt.JWT(header=hdr, claims=claims)
    t.make_signed_token(key)
    return t.serialize()


def main():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium) or not os.path.isdir(os.path.join(INTEROP, "node_modules", "openid-client")):
        print("SKIP: chromium or npm openid-client missing (scripts/deps.sh installs them)")
        sys.exit(77)
    st = h.Stack()
    try:
        st.start()
        u = st.utility
        name = sorted(f for f in os.listdir(h.SAMPLES) if f.endswith(".csv"))[0]
        st.drop(name, open(os.path.join(h.SAMPLES, name), "rb").read())
        check("sample accepted", st.receipt(name)["status"] == "accepted")
        check("data served", h.wait_until(lambda: st.api.get("/utilities/%s/items" % u)[1].get("items"), 30))
        issuer = st.base_url
        # the vendor's application with its redirect URI, granted the utility
        st.admin("POST", "/tenants", {"id": "rp-vendor", "kind": "vendor", "name": "RP ベンダー"})
        st.admin("POST", "/links", {"utility": u, "vendor": "rp-vendor"})
        code, app = st.admin("POST", "/applications", {"id": "rp-app", "vendor": "rp-vendor",
                                                       "name": "RP", "redirect_uris": [REDIRECT]})
        check("application registered with a client configuration",
              code == 201 and app.get("client_secret") and app.get("issuer") == issuer, (code, app))
        code, g = st.admin("PUT", "/utilities/%s/grants/rp-app" % u, {"scope": {"all": True}})
        check("grant set", code in (200, 201), (code, g))
        # a utility user, one-time password and a TOTP secret from the operator
        code, user = st.admin("POST", "/users", {"tenant": u, "name_kanji": "水道 太郎",
                                                 "name_kana": "スイドウ タロウ",
                                                 "name_romaji": "Suido Taro",
                                                 "mail": "taro@example.jp", "role": "admin",
                                                 "otp_required": True})
        check("user created with a one-time password", code == 201 and user.get("login"), (code, user))
        login = user["login"]
        code, totp = st.admin("POST", "/users/%s/totp" % login)
        check("TOTP secret provisioned", code == 200 and totp.get("secret"), (code, totp))

        env = dict(os.environ, ISSUER=issuer, CLIENT_ID="rp-app", CLIENT_SECRET=app["client_secret"],
                   REDIRECT_URI=REDIRECT, LOGIN=login, PASSWORD=user["one_time_password"],
                   NEW_PASSWORD="Kawa-no-nagare-2026!", TOTP_SECRET=totp["secret"],
                   CHROMIUM=chromium, NODE_EXTRA_CA_CERTS=st.pki["ca"])
        r = subprocess.run(["node", os.path.join(INTEROP, "oidc_rp.mjs")], cwd=INTEROP, env=env,
                           capture_output=True, text=True, timeout=240)
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"ok": False, "error": r.stdout[-2000:] + r.stderr[-2000:]}
        for s in res.get("steps", []):
            check("openid-client: " + s["name"], s["ok"], s["detail"])
        check("openid-client run completes", res.get("ok"), res.get("error"))
        check("the one-time password had to be changed at first sign-in", res.get("changed_password"))
        if not res.get("ok"):
            print(r.stderr[-3000:])
            raise AssertionError("the relying party did not complete")

        # the tokens open the granted utility's data
        code, body = ap(st, res["user_access_token"])
        check("user token reads the utility's items", code == 200 and body["items"], (code, body))
        code, body = ap(st, res["client_access_token"])
        check("client credentials token reads the items", code == 200 and body["items"], (code, body))
        code, body = ap(st, res["client_access_token"], "/utilities/other-utility/items")
        check("... and not another utility (403)", code == 403, (code, body))

        # negative matrix with forged tokens (jwcrypto)
        keyfile = sorted(glob.glob(os.path.join(st.dir, "platform", "oidc-keys", "*.pem")))[-1]
        kid = os.path.basename(keyfile)[:-4]
        key = jwk.JWK.from_pem(open(keyfile, "rb").read())
        key = jwk.JWK(**dict(json.loads(key.export_private()), kid=kid))
        now = int(time.time())
        good = {"iss": issuer, "aud": issuer + "/ap/v1", "sub": "rp-app", "client_id": "rp-app",
                "scope": "ap.read", "iat": now, "exp": now + 300, "jti": "x"}
        code, _ = ap(st, forge(st, key, good))
        check("a token signed with the provider's key and good claims works", code == 200, code)
        cases = {
            "expired": dict(good, exp=now - 120, iat=now - 600),
            "not yet valid (nbf)": dict(good, nbf=now + 600),
            "wrong audience": dict(good, aud="https://elsewhere/ap/v1"),
            "wrong issuer": dict(good, iss="https://evil.example"),
            "no client_id": {k: v for k, v in good.items() if k != "client_id"},
            "unknown application": dict(good, client_id="ghost-app", sub="ghost-app"),
        }
        for name, claims in cases.items():
            code, wa = www_auth(st, forge(st, key, claims))
            check("refused: " + name, code == 401 and 'error="invalid_token"' in wa, (code, wa))
        code, wa = www_auth(st, forge(st, key, good, {"typ": "JWT"}))
        check("refused: an ID-token-typed JWT as access token", code == 401, (code, wa))
        # alg none
        import base64

        def b64(d):
            return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
        none_tok = b64({"alg": "none", "typ": "at+jwt", "kid": key.key_id}) + "." + b64(good) + "."
        code, wa = www_auth(st, none_tok)
        check("refused: alg none", code == 401 and "invalid_token" in wa, (code, wa))
        # HS256 keyed with our public key (the JWKS's n/e as PEM)
        pub_pem = key.export_to_pem()
        hs = jwt.JWT(header={"alg": "HS256", "typ": "at+jwt", "kid": key.key_id}, claims=good)
        hs.make_signed_token(jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(pub_pem).rstrip(b"=").decode()))
        code, wa = www_auth(st, hs.serialize())
        check("refused: HS256 signed with our public key", code == 401, (code, wa))
        # a key id we never issued (a fresh key)
        rogue = jwk.JWK.generate(kty="RSA", size=2048, kid="k20260101000000-dead")
        code, wa = www_auth(st, forge(st, rogue, good))
        check("refused: a kid we never issued", code == 401, (code, wa))
        # a token of a user of another utility: 403
        other = dict(good, sub="someone-0001", tenant="another")
        code, body = ap(st, forge(st, key, other))
        check("refused: a user unknown to the registry (401)", code == 401, (code, body))

        # revoked grant, then revoked application
        st.admin("DELETE", "/utilities/%s/grants/rp-app" % u)
        code, wa = www_auth(st, res["client_access_token"])
        check("revoked grant: 403 insufficient_scope", code == 403 and "insufficient_scope" in wa, (code, wa))
        st.admin("PUT", "/utilities/%s/grants/rp-app" % u, {"scope": {"all": True}})
        code, _ = ap(st, res["client_access_token"])
        check("grant restored: the same token reads again", code == 200, code)
        st.admin("POST", "/applications/rp-app/revoke")
        code, wa = www_auth(st, res["client_access_token"])
        check("revoked application: 401 invalid_token at once", code == 401 and "invalid_token" in wa, (code, wa))
        code, body = st.oidc_token("rp-app", app["client_secret"])
        check("revoked application gets no new token", code == 401 and body.get("error") == "invalid_client",
              (code, body))
        st.admin("POST", "/applications/rp-app/reinstate")

        # key rotation
        old_tok = st.oidc_token("rp-app", app["client_secret"])[1]["access_token"]
        code, body = st.admin("POST", "/oidc/rotate-keys")
        check("rotate keys", code == 200, (code, body))
        with st.urlopen("/oidc/jwks") as f:
            keys = json.loads(f.read())["keys"]
        new_tok = st.oidc_token("rp-app", app["client_secret"])[1]["access_token"]
        kid_old = json.loads(base64.urlsafe_b64decode(old_tok.split(".")[0] + "=="))["kid"]
        kid_new = json.loads(base64.urlsafe_b64decode(new_tok.split(".")[0] + "=="))["kid"]
        check("after rotation tokens carry a new kid, both published",
              kid_old != kid_new and {kid_old, kid_new} <= {k["kid"] for k in keys}, (kid_old, kid_new, keys))
        check("a token of the previous key still works", ap(st, old_tok)[0] == 200)
        check("a token of the new key works", ap(st, new_tok)[0] == 200)

        # the access log recorded who read what
        log = open(os.path.join(st.dir, "platform", "access.log")).read().splitlines()
        entries = [json.loads(x) for x in log]
        check("access log has the user's read and the refusals",
              any(e["user"] == login and e["status"] == 200 for e in entries) and
              any(e["client"] == "rp-app" and e["status"] == 401 for e in entries), log[-5:])
    finally:
        st.stop()
    if failures:
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        failures.append(str(e))
    if failures:
        sys.exit(1)
