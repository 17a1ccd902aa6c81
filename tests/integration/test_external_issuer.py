#!/usr/bin/env python3
"""An external OpenID issuer instead of the built-in provider (docs/oidc.md,
"An external issuer instead"): [oidc] external_issuer, external_jwks and
audience. The issuer here is played by python3-jwcrypto, an implementation
independent of ours: an RSA signing key published in a JWK set file the way
Keycloak's .../protocol/openid-connect/certs publishes it (with an
encryption key beside it), and Keycloak-shaped access tokens (typ JWT, iss
the realm, aud a list holding the audience, azp the client, scope).
Checked through the real stack: the built-in provider's endpoints answer
404; a granted application reads its utility's data (200, the sample's
items); the registry still decides (an ungranted utility, a token without
ap.read and a revoked grant are 403, a revoked application 401); and a token
of another issuer, for another audience, expired, with a kid not in the set,
signed by another key under a published kid, signed with the set's
encryption key, HS256, naming no client or a client the registry does not
have is 401 invalid_token."""
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from jwcrypto import jwk, jwt  # noqa: E402

ISSUER = "https://kc.example/realms/suido"
AUDIENCE = "suido-ap"
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": %s" % (detail,)))
    if not ok:
        failures.append(name)


def mint(key, claims=None, header=None, **over):
    """A Keycloak-like access token of client kc-app, signed by key."""
    now = int(time.time())
    c = {"exp": now + 300, "iat": now, "jti": str(uuid.uuid4()), "iss": ISSUER,
         "aud": [AUDIENCE, "account"], "sub": str(uuid.uuid4()), "typ": "Bearer",
         "azp": "kc-app", "scope": "openid profile ap.read", "clientId": "kc-app"}
    c.update(claims or {})
    c.update(over)
    c = {k: v for k, v in c.items() if v is not None}
    hdr = {"alg": "RS256", "typ": "JWT", "kid": key.get("kid")}
    hdr.update(header or {})
    t = jwt.JWT(header=hdr, claims=c)
    t.make_signed_token(key)
    return t.serialize()


def refused(st, token, path):
    """(status, error code, WWW-Authenticate) of a GET on the AP interface."""
    req = urllib.request.Request(st.base_url + "/ap/v1" + path)
    req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10, context=h.tls_context(st.pki["ca"])) as r:
            return r.status, None, ""
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        return e.code, body.get("error"), e.headers.get("WWW-Authenticate", "")


def main():
    signing = jwk.JWK.generate(kty="RSA", size=2048, kid="kc-sig-1")
    enc = jwk.JWK.generate(kty="RSA", size=2048, kid="kc-enc-1")
    pub = dict(json.loads(signing.export_public()), use="sig", alg="RS256")
    pub_enc = dict(json.loads(enc.export_public()), use="enc", alg="RSA-OAEP")
    jwks_doc = json.dumps({"keys": [pub, pub_enc]})
    # the JWK set file must exist when Stack() writes platform.conf
    jdir = tempfile.mkdtemp(prefix="suido-kc-")
    jwks_path = os.path.join(jdir, "certs.json")
    with open(jwks_path, "w") as f:
        f.write(jwks_doc)
    st = None
    try:
        # The harness writes an [oidc] section of its own (access_ttl_s);
        # platform.conf takes a second one, whose keys are read after the
        # first's. provision=False: the harness's provisioning needs the
        # built-in provider's token endpoint, off here.
        st = h.Stack(provision=False, extra_platform_conf=(
            "[oidc]\nexternal_issuer = %s\nexternal_jwks = %s\naudience = %s\n"
            % (ISSUER, jwks_path, AUDIENCE)))
        st.start()
        u = st.utility
        base_log = st.log("platform")
        check("the platform runs with the external issuer",
              "external" in base_log and ISSUER in base_log, base_log[-1500:])

        # the built-in provider is off
        for path in ("/oidc/token", "/.well-known/openid-configuration", "/oidc/jwks",
                     "/oidc/authorize?client_id=kc-app"):
            try:
                with st.urlopen(path) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            check("built-in provider off: %s is 404" % path, code == 404, code)
        code, body = st.oidc_token("kc-app", "whatever")
        check("POST /oidc/token is 404", code == 404, (code, body))

        # the registry, through the operator's admin token (no provider needed)
        for tid, kind in (("kc-vendor", "vendor"), ("other-u", "utility")):
            code, body = st.admin("POST", "/tenants", {"id": tid, "kind": kind, "name": tid})
            assert code == 201, (code, body)
        for util in (u, "other-u"):
            code, body = st.admin("POST", "/links", {"utility": util, "vendor": "kc-vendor"})
            assert code == 201, (code, body)
        code, body = st.admin("POST", "/applications", {"id": "kc-app", "vendor": "kc-vendor",
                                                        "name": "Keycloak client",
                                                        "redirect_uris": []})
        assert code == 201, (code, body)
        code, body = st.admin("PUT", "/utilities/%s/grants/kc-app" % u, {"scope": {"all": True}})
        assert code in (200, 201), (code, body)

        # data for the utility
        name = sorted(f for f in os.listdir(h.SAMPLES) if f.endswith(".csv"))[0]
        st.drop(name, open(os.path.join(h.SAMPLES, name), "rb").read())
        check("sample accepted", st.receipt(name)["status"] == "accepted")
        good = mint(signing)

        def served():
            code, body = st.api.get("/utilities/%s/items" % u, token=good)
            return code == 200 and body.get("items")
        items = h.wait_until(served, 30)
        check("granted application: 200 with the utility's items", bool(items), items)
        if items:
            it = items[0]["id"]
            code, body = st.api.get("/utilities/%s/items/%s/latest" % (u, it), token=good)
            check("granted application: 200 with a latest value",
                  code == 200 and "v" in body and "t" in body, (code, body))
        code, body = st.api.get("/utilities/%s/items" % u,
                                token=mint(signing, aud=AUDIENCE))
        check("aud as a single string works too", code == 200, (code, body))
        code, body = st.api.get("/utilities/%s/items" % u,
                                token=mint(signing, azp=None, client_id="kc-app"))
        check("the client from client_id when azp is absent", code == 200, (code, body))

        # refused by the registry: 403
        for name_, tok, path in (
                ("an ungranted utility", good, "/utilities/other-u/items"),
                ("a utility that does not exist", good, "/utilities/no-such/items"),
                ("a token without ap.read", mint(signing, scope="openid profile"),
                 "/utilities/%s/items" % u)):
            code, err, wa = refused(st, tok, path)
            check("refused 403: " + name_,
                  code == 403 and err == "insufficient_scope" and "insufficient_scope" in wa,
                  (code, err, wa))

        # refused as invalid tokens: 401
        other = jwk.JWK.generate(kty="RSA", size=2048, kid="kc-sig-1")
        rogue = jwk.JWK.generate(kty="RSA", size=2048, kid="kc-sig-2")
        enc_priv = jwk.JWK(**dict(json.loads(enc.export_private()), kid="kc-enc-1"))
        hs = jwt.JWT(header={"alg": "HS256", "typ": "JWT", "kid": "kc-sig-1"},
                     claims={"iss": ISSUER, "aud": AUDIENCE, "azp": "kc-app", "scope": "ap.read",
                             "exp": int(time.time()) + 300})
        hs.make_signed_token(jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(
            signing.export_to_pem()).rstrip(b"=").decode()))
        now = int(time.time())
        for name_, tok in (
                ("another issuer", mint(signing, iss="https://kc.example/realms/other")),
                ("the built-in issuer's URL", mint(signing, iss=st.base_url)),
                ("another audience", mint(signing, aud=["account", "other-api"])),
                ("no audience", mint(signing, aud=None)),
                ("expired", mint(signing, exp=now - 120, iat=now - 600)),
                ("not yet valid", mint(signing, nbf=now + 600)),
                ("a kid not in the JWK set", mint(rogue)),
                ("a published kid, another key", mint(other)),
                ("signed with the set's encryption key", mint(enc_priv)),
                ("HS256 keyed with the public key", hs.serialize()),
                ("no client (no azp, no client_id)", mint(signing, azp=None, clientId=None)),
                ("a client not in the registry", mint(signing, azp="ghost-app"))):
            code, err, wa = refused(st, tok, "/utilities/%s/items" % u)
            check("refused 401: " + name_,
                  code == 401 and err == "invalid_token" and 'error="invalid_token"' in wa,
                  (code, err, wa))

        # the registry's changes apply at the next request
        code, _ = st.admin("DELETE", "/utilities/%s/grants/kc-app" % u)
        c2, err, _ = refused(st, good, "/utilities/%s/items" % u)
        check("revoked grant: 403 at once", code == 204 and c2 == 403 and
              err == "insufficient_scope", (code, c2, err))
        st.admin("PUT", "/utilities/%s/grants/kc-app" % u, {"scope": {"all": True}})
        check("grant restored: 200 again",
              st.api.get("/utilities/%s/items" % u, token=good)[0] == 200)
        code, _ = st.admin("POST", "/applications/kc-app/revoke")
        c2, err, _ = refused(st, good, "/utilities/%s/items" % u)
        check("revoked application: 401 invalid_token at once",
              code == 200 and c2 == 401 and err == "invalid_token", (code, c2, err))
        st.admin("POST", "/applications/kc-app/reinstate")
        check("application reinstated: 200 again",
              st.api.get("/utilities/%s/items" % u, token=good)[0] == 200)
        # the admin API takes no external token as a user's
        code, body = st.admin("GET", "/me", token=good)
        check("an external token is not an admin API user (401)", code == 401, (code, body))
    finally:
        shutil.rmtree(jdir, ignore_errors=True)
        if st:
            st.stop()
    if failures:
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
