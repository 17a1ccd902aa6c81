#!/usr/bin/env python3
"""Tenant isolation of the admin API through the real HTTPS stack: a utility's
administrator sees and changes only its own tenant's users (docs/admin.md,
"Who may do what"). The operator makes utilities iso-a and iso-b and an
administrator in each; each signs in for real through the sign-in page
(harness Stack.sign_in: authorization code with PKCE, the one-time password
changed at first sign-in, one account with TOTP from oathtool) and uses its
own access token on /admin/v1. Checked with A's token (and the mirror with
B's): the user list holds A's users only, and a filter naming B lists
nothing; B's user is 404 to GET and PATCH, exactly like a login that does not
exist, and stays unchanged; adding a user to B, a grant of B's data, a
password reset and the audit log are 403; A's own user can be added and
changed. A general user of A gets 403 on /users and only /me. The refusals
are in the audit log as admin.refused with the user as actor."""
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REDIRECT = "http://127.0.0.1:9/callback"
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": %s" % (detail,)))
    if not ok:
        failures.append(name)


def new_user(st, tenant, role, otp_required=False, token=None):
    code, u = st.admin("POST", "/users", {"tenant": tenant, "name_kanji": "水道 花子",
                                          "name_kana": "スイドウ ハナコ", "name_romaji": "Suido Hanako",
                                          "mail": "hanako@%s.example" % tenant, "role": role,
                                          "otp_required": otp_required}, token=token)
    assert code == 201 and u.get("login", "").startswith(tenant + "-"), (code, u)
    return u


def logins(answer):
    return sorted(u["login"] for u in answer.get("users", []))


def main():
    st = h.Stack()
    try:
        st.start()
        for tid, kind in (("iso-a", "utility"), ("iso-b", "utility"), ("iso-vendor", "vendor")):
            code, body = st.admin("POST", "/tenants", {"id": tid, "kind": kind, "name": tid})
            assert code == 201, (code, body)
        # the application the users sign in through (a client of the provider)
        code, app = st.admin("POST", "/applications", {"id": "it-portal", "vendor": "iso-vendor",
                                                       "name": "portal", "redirect_uris": [REDIRECT]})
        assert code == 201, (code, app)
        client, secret = "it-portal", app["client_secret"]

        a_admin = new_user(st, "iso-a", "admin")
        a_gen = new_user(st, "iso-a", "general")
        b_admin = new_user(st, "iso-b", "admin")
        b_user = new_user(st, "iso-b", "general")
        # A's second administrator must give a TOTP code at sign-in
        a_totp = new_user(st, "iso-a", "admin", otp_required=True)
        code, totp = st.admin("POST", "/users/%s/totp" % a_totp["login"])
        assert code == 200 and totp.get("secret"), (code, totp)

        def sign_in(u, **kw):
            return st.sign_in(client, secret, REDIRECT, u["login"], u["one_time_password"],
                              new_password="Mizu-no-kuni-2026-" + secrets.token_hex(4), **kw)["access_token"]

        tok_a, tok_b, tok_g = sign_in(a_admin), sign_in(b_admin), sign_in(a_gen)
        tok_t = sign_in(a_totp, totp_secret=totp["secret"])
        for name, tok, u in (("A's admin", tok_a, a_admin), ("B's admin", tok_b, b_admin),
                             ("A's general user", tok_g, a_gen), ("A's TOTP admin", tok_t, a_totp)):
            code, me = st.admin("GET", "/me", token=tok)
            check("%s signed in for real: /me names it" % name,
                  code == 200 and me.get("login") == u["login"] and me.get("kind") == "user"
                  and not me.get("must_change"), (code, me))
        # the one-time password was replaced at first sign-in
        try:
            st.sign_in(client, secret, REDIRECT, a_admin["login"], a_admin["one_time_password"])
            refused = None
        except AssertionError as e:
            refused = e.args[0]
        check("the one-time password is dead after the change",
              refused and refused[0] == "sign-in refused" and refused[2] == 200, refused)

        _, everyone = st.admin("GET", "/users")
        users_of = {t: sorted(u["login"] for u in everyone["users"] if u["tenant"] == t)
                    for t in ("iso-a", "iso-b")}
        check("the operator sees both tenants' users",
              len(users_of["iso-a"]) == 3 and len(users_of["iso-b"]) == 2, everyone)

        for me_name, tok, mine, theirs, other_t, other_user in (
                ("A", tok_a, "iso-a", "iso-b", "iso-b", b_admin),
                ("B", tok_b, "iso-b", "iso-a", "iso-a", a_admin)):
            code, body = st.admin("GET", "/users", token=tok)
            check("%s's admin lists exactly its own tenant's users" % me_name,
                  code == 200 and logins(body) == users_of[mine]
                  and all(u["tenant"] == mine for u in body["users"]), (code, body))
            code, body = st.admin("GET", "/users?tenant=" + other_t, token=tok)
            check("%s's admin: a filter naming %s lists nothing" % (me_name, theirs),
                  code == 200 and body.get("users") == [], (code, body))
            code, body = st.admin("GET", "/users/" + other_user["login"], token=tok)
            code2, body2 = st.admin("GET", "/users/%s-9999" % other_t, token=tok)
            check("%s's admin: the other tenant's user is 404, like an unknown login" % me_name,
                  code == 404 and code2 == 404 and body.get("error") == body2.get("error"),
                  (code, body, code2, body2))
            before = st.admin("GET", "/users/" + other_user["login"])[1]
            code, body = st.admin("PATCH", "/users/" + other_user["login"],
                                  {"mail": "taken@evil.example", "role": "general"}, token=tok)
            after = st.admin("GET", "/users/" + other_user["login"])[1]
            check("%s's admin: PATCH of the other tenant's user is 404 and changes nothing"
                  % me_name, code == 404 and before == after, (code, body, before, after))
            code, body = st.admin("GET", "/tenants/" + other_t, token=tok)
            check("%s's admin: the other tenant is 404" % me_name, code == 404, (code, body))

        # actions aimed at B by A's admin: 403, and nothing happens
        n_b = len(users_of["iso-b"])
        code, body = st.admin("POST", "/users", {"tenant": "iso-b", "name_kanji": "侵入 者",
                                                 "name_kana": "シンニュウ シャ", "name_romaji": "X",
                                                 "role": "admin"}, token=tok_a)
        _, b_now = st.admin("GET", "/users?tenant=iso-b")
        check("A's admin cannot add a user to B (403, no user made)",
              code == 403 and len(b_now["users"]) == n_b, (code, body, b_now))
        code, body = st.admin("PUT", "/utilities/iso-b/grants/iso-portal", {"scope": {"all": True}},
                              token=tok_a)
        check("A's admin cannot grant B's data (403)", code == 403, (code, body))
        for login in (a_gen["login"], b_user["login"]):
            code, body = st.admin("POST", "/users/%s/password-reset" % login, token=tok_a)
            check("A's admin: password reset of %s is 403 (operator only)" % login,
                  code == 403 and "one_time_password" not in body, (code, body))
        code, body = st.admin("GET", "/audit", token=tok_a)
        check("A's admin: audit is 403", code == 403 and "entries" not in body, (code, body))

        # within its own tenant A's admin may act
        code, body = st.admin("PATCH", "/users/" + a_gen["login"], {"mail": "new@iso-a.example"},
                              token=tok_a)
        check("A's admin changes its own tenant's user (200)",
              code == 200 and body.get("mail") == "new@iso-a.example"
              and st.admin("GET", "/users/" + a_gen["login"])[1].get("mail") == "new@iso-a.example",
              (code, body))
        code, body = st.admin("POST", "/users", {"tenant": "iso-a", "name_kanji": "追加 一郎",
                                                 "name_kana": "ツイカ イチロウ",
                                                 "name_romaji": "Tsuika Ichiro"}, token=tok_a)
        check("A's admin adds a user to its own tenant (201)",
              code == 201 and body.get("tenant") == "iso-a" and body.get("one_time_password"),
              (code, body))
        code, body = st.admin("GET", "/users", token=tok_t)
        check("A's other admin (TOTP) sees A's users, the new one included",
              code == 200 and len(body["users"]) == 4
              and all(u["tenant"] == "iso-a" for u in body["users"]), (code, body))

        # a general user: /me only
        for method, path, body in (("GET", "/users", None),
                                   ("GET", "/users/" + a_gen["login"], None),
                                   ("PATCH", "/users/" + a_gen["login"], {"mail": "g@x.example"}),
                                   ("GET", "/tenants", None)):
            code, ans = st.admin(method, path, body, token=tok_g)
            check("a general user: %s %s is 403" % (method, path), code == 403, (code, ans))
        code, me = st.admin("GET", "/me", token=tok_g)
        check("a general user reads /me", code == 200 and me.get("role") == "general", (code, me))

        # the refusals were audited with the user as actor
        _, audit = st.admin("GET", "/audit?limit=1000")
        refused = [e for e in audit["entries"] if e["action"] == "admin.refused"]
        check("A's refused actions are audited as admin.refused by user:" + a_admin["login"],
              sum(e["actor"] == "user:" + a_admin["login"] for e in refused) >= 5, refused)
        check("the general user's refusals are audited",
              any(e["actor"] == "user:" + a_gen["login"] for e in refused), refused)

        # A vendor's application (not a first-party client): no code for a user
        # of a utility that has not granted it; once granted, the user's token
        # reads the utility's data but gives the application no admin powers.
        code, vapp = st.admin("POST", "/applications", {"id": "iso-vendor-app",
                                                        "vendor": "iso-vendor", "name": "v",
                                                        "redirect_uris": [REDIRECT]})
        assert code == 201, (code, vapp)
        st.admin("POST", "/links", {"utility": "iso-a", "vendor": "iso-vendor"})
        c_admin = new_user(st, "iso-a", "admin")
        new_pw = "Mizu-no-kuni-2026-" + secrets.token_hex(4)
        try:
            st.sign_in("iso-vendor-app", vapp["client_secret"], REDIRECT, c_admin["login"],
                       c_admin["one_time_password"], new_password=new_pw)
            denied = "signed in"
        except AssertionError as e:
            denied = str(e)
        check("an application without a grant of the user's utility gets no code (access_denied)",
              "access_denied" in denied, denied)
        code, g = st.admin("PUT", "/utilities/iso-a/grants/iso-vendor-app", {"scope": {"all": True}})
        assert code in (200, 201), (code, g)
        tok_v = st.sign_in("iso-vendor-app", vapp["client_secret"], REDIRECT, c_admin["login"],
                           new_pw, scope="openid ap.read")["access_token"]
        code, body = st.api.get("/utilities/iso-a/items", token=tok_v)
        check("granted: the administrator's token of the vendor's app reads the utility", code == 200,
              (code, body))
        for method, path, body in (("GET", "/users", None),
                                   ("PUT", "/utilities/iso-a/grants/iso-vendor-app",
                                    {"scope": {"all": True}})):
            code, ans = st.admin(method, path, body, token=tok_v)
            check("the vendor's app holding an administrator's token: %s %s is 401" % (method, path),
                  code == 401, (code, ans))
    finally:
        st.stop()
    if failures:
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
