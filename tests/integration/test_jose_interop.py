"""JWS/JWE interoperability of lib/jose.c with two independent JOSE
implementations, python3-jwcrypto and npm jose (tests/interop), in both
directions: each seals (sign, then encrypt with cty JWT) and we open, we seal
and each opens; the same for sign-only and encrypt-only. Also, tokens they
make with algorithms the profile does not allow (RS512, A256GCM) are refused
by us with the documented exit status. Our side is the `suido` command (seal,
open, sign, verify, encrypt, decrypt --format json); keys come from the
openssl CLI.
Needs scripts/deps.sh to have installed tests/interop/node_modules."""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_decode, json_encode

SOURCE = os.environ.get("SUIDO_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("SUIDO_BINARY_DIR", os.path.join(SOURCE, "build"))
INTEROP = os.path.join(SOURCE, "tests", "interop")
NODE = shutil.which("node") or "node"

# A 100-record data profile with the Japanese names the platform really sees.
PAYLOAD = (
    '{"profile":"suido.data/1","id":"gw1:1763600000:42","utility":"demo","gateway":"gw1",'
    '"sent":"2026-11-20T01:00:00Z","items":[{"id":"haisuichi.1","name":"配水池水位(m)",'
    '"unit":"m","facility":"配水池"}],"points":['
    + ",".join('[0,"2026-11-19T%02d:%02d:00Z",%d.%02d]' % (i // 60, i % 60, 4 + i // 100, i % 100)
               for i in range(100))
    + "]}").encode()


def error_codes():
    """{name: value} of enum suido_err, read from include/suido/error.h."""
    text = open(os.path.join(SOURCE, "include", "suido", "error.h")).read()
    body = text[text.index("enum suido_err {"):text.index("};")]
    names = re.findall(r"^\s*(SUIDO_\w+)", body, re.M)
    return {n: i for i, n in enumerate(names)}


ERR = error_codes()


def make_keys(tmp):
    """gateway (signer) and platform (recipient) RSA-2048 key pairs."""
    keys = {}
    for name in ("gw", "pf", "other"):
        priv = os.path.join(tmp, name + ".key")
        pub = os.path.join(tmp, name + ".pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        keys[name] = (priv, pub)
    return keys


# The documented exit statuses of `suido` (docs/cli.md) for the library's
# error codes the checks expect.
EXIT_FOR = {0: 0, ERR["SUIDO_ERR_INVALID"]: 65, ERR["SUIDO_ERR_LIMIT"]: 65,
            ERR["SUIDO_ERR_SIGNATURE"]: 66, ERR["SUIDO_ERR_DECRYPT"]: 67}


def cert_for(pub):
    """suido names the other party by certificate: a self-signed one made from
    the private key beside the public key ("x.pub" / "x.key", or
    "x-pub.pem" / "x-key.pem")."""
    crt = pub + ".crt"
    if not os.path.exists(crt):
        priv = pub[:-4] + ".key" if pub.endswith(".pub") else pub.replace("-pub.pem", "-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", priv, "-subj", "/CN=peer",
                        "-days", "2", "-out", crt], check=True, capture_output=True)
    return crt


class Runner:
    """Our side is the real `suido` command; the checks speak a short
    vocabulary: open KEY PUB | seal KEY PUB [KID] | verify PUB | sign KEY [KID] |
    decrypt KEY | encrypt PUB [CTY]."""

    def __init__(self, suido):
        self.suido = suido

    def argv(self, args):
        op, rest = args[0], args[1:]
        cmd = [self.suido, op, "--format", "json"]
        if op == "open":
            cmd += ["--key", rest[0], "--from", cert_for(rest[1])]
        elif op == "seal":
            cmd += ["--key", rest[0], "--to", cert_for(rest[1])] + (["--kid", rest[2]] if len(rest) > 2 else [])
        elif op == "verify":
            cmd += ["--from", cert_for(rest[0])]
        elif op == "sign":
            cmd += ["--key", rest[0]] + (["--kid", rest[1]] if len(rest) > 1 else [])
        elif op == "decrypt":
            cmd += ["--key", rest[0]]
        elif op == "encrypt":
            cmd += ["--to", cert_for(rest[0])] + (["--cty", rest[1]] if len(rest) > 1 else [])
        else:
            raise AssertionError("unknown operation " + op)
        return cmd

    def ours(self, args, data, want=0):
        """suido OP ... < data; returns (stdout bytes, stderr text). want is the
        library error code expected; it is checked as its exit status."""
        r = subprocess.run(self.argv(args), input=data, capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == EXIT_FOR[want], "suido %s: exit %d, wanted %d: %s" % (
            " ".join(args), r.returncode, EXIT_FOR[want], err)
        return r.stdout, err

    def node(self, args, data, want_ok=True):
        r = subprocess.run([NODE, os.path.join(INTEROP, "jose_node.mjs")] + args, input=data,
                           capture_output=True, cwd=INTEROP, timeout=60)
        err = r.stderr.decode(errors="replace")
        assert (r.returncode == 0) == want_ok, "jose_node %s: exit %d: %s" % (
            " ".join(args), r.returncode, err)
        return r.stdout, err


def pem_key(path):
    return jwk.JWK.from_pem(open(path, "rb").read())


def header_of(token, part=0):
    seg = token.split(b".")[part]
    return json_decode(base64.urlsafe_b64decode(seg + b"=" * (-len(seg) % 4)))


def check_jwcrypto(run, keys):
    gw_priv, gw_pub = pem_key(keys["gw"][0]), pem_key(keys["gw"][1])
    pf_priv, pf_pub = pem_key(keys["pf"][0]), pem_key(keys["pf"][1])

    # jwcrypto seals -> we open
    s = jws.JWS(PAYLOAD)
    s.add_signature(gw_priv, alg="RS256", protected=json_encode({"alg": "RS256", "kid": "gw1"}))
    e = jwe.JWE(s.serialize(compact=True).encode(),
                protected=json_encode({"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "cty": "JWT"}))
    e.add_recipient(pf_pub)
    sealed = e.serialize(compact=True).encode()
    out, err = run.ours(["open", keys["pf"][0], keys["gw"][1]], sealed)
    assert out == PAYLOAD, "jwcrypto seal -> our open: payload differs"
    assert "kid: gw1" in err, err
    # ... and refuses it with the wrong keys
    run.ours(["open", keys["other"][0], keys["gw"][1]], sealed, want=ERR["SUIDO_ERR_DECRYPT"])
    run.ours(["open", keys["pf"][0], keys["other"][1]], sealed, want=ERR["SUIDO_ERR_SIGNATURE"])

    # we seal -> jwcrypto opens
    sealed, _ = run.ours(["seal", keys["gw"][0], keys["pf"][1], "gw1"], PAYLOAD)
    hdr = header_of(sealed)
    assert hdr == {"alg": "RSA-OAEP", "enc": "A128CBC-HS256", "cty": "JWT"}, hdr
    e = jwe.JWE()
    e.deserialize(sealed.decode(), key=pf_priv)
    assert e.jose_header["cty"] == "JWT"
    s = jws.JWS()
    s.deserialize(e.payload.decode())
    s.verify(gw_pub, alg="RS256")
    assert s.payload == PAYLOAD, "our seal -> jwcrypto open: payload differs"
    assert s.jose_header == {"alg": "RS256", "kid": "gw1"}, s.jose_header

    # sign only, both ways
    s = jws.JWS(PAYLOAD)
    s.add_signature(gw_priv, alg="RS256", protected=json_encode({"alg": "RS256"}))
    out, err = run.ours(["verify", keys["gw"][1]], s.serialize(compact=True).encode())
    assert out == PAYLOAD and "kid:" not in err
    tok, _ = run.ours(["sign", keys["gw"][0], "gw1"], PAYLOAD)
    s = jws.JWS()
    s.deserialize(tok.decode())
    s.verify(gw_pub, alg="RS256")
    assert s.payload == PAYLOAD and s.jose_header["kid"] == "gw1"

    # encrypt only, both ways
    e = jwe.JWE(PAYLOAD, protected=json_encode({"alg": "RSA-OAEP", "enc": "A128CBC-HS256"}))
    e.add_recipient(pf_pub)
    out, _ = run.ours(["decrypt", keys["pf"][0]], e.serialize(compact=True).encode())
    assert out == PAYLOAD
    tok, _ = run.ours(["encrypt", keys["pf"][1]], PAYLOAD)
    e = jwe.JWE()
    e.deserialize(tok.decode(), key=pf_priv)
    assert e.payload == PAYLOAD

    # what jwcrypto can make and the profile forbids is refused
    e = jwe.JWE(PAYLOAD, protected=json_encode({"alg": "RSA-OAEP", "enc": "A256GCM"}))
    e.add_recipient(pf_pub)
    run.ours(["decrypt", keys["pf"][0]], e.serialize(compact=True).encode(),
             want=ERR["SUIDO_ERR_DECRYPT"])
    e = jwe.JWE(PAYLOAD, protected=json_encode({"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256"}))
    e.add_recipient(pf_pub)
    run.ours(["decrypt", keys["pf"][0]], e.serialize(compact=True).encode(),
             want=ERR["SUIDO_ERR_DECRYPT"])
    s = jws.JWS(PAYLOAD)
    s.add_signature(gw_priv, alg="PS256", protected=json_encode({"alg": "PS256"}))
    run.ours(["verify", keys["gw"][1]], s.serialize(compact=True).encode(),
             want=ERR["SUIDO_ERR_SIGNATURE"])
    print("jwcrypto: seal/open, sign/verify, encrypt/decrypt both ways; A256GCM, "
          "RSA-OAEP-256, PS256 refused")


def check_node(run, keys):
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "jose")):
        raise AssertionError("tests/interop/node_modules/jose is missing: run scripts/deps.sh")
    gw, pf = keys["gw"], keys["pf"]

    # node jose seals -> we open
    sealed, _ = run.node(["seal", gw[0], pf[1], "gw1"], PAYLOAD)
    out, err = run.ours(["open", pf[0], gw[1]], sealed)
    assert out == PAYLOAD, "node seal -> our open: payload differs"
    assert "kid: gw1" in err, err
    # we seal -> node jose opens
    sealed, _ = run.ours(["seal", gw[0], pf[1], "gw1"], PAYLOAD)
    out, err = run.node(["open", pf[0], gw[1]], sealed)
    assert out == PAYLOAD, "our seal -> node open: payload differs"
    assert "kid: gw1" in err, err
    # and node refuses our seal with the wrong keys, as we refuse its
    run.node(["open", keys["other"][0], gw[1]], sealed, want_ok=False)
    run.node(["open", pf[0], keys["other"][1]], sealed, want_ok=False)

    # sign only, both ways
    tok, _ = run.node(["sign", gw[0], "gw1"], PAYLOAD)
    out, err = run.ours(["verify", gw[1]], tok)
    assert out == PAYLOAD and "kid: gw1" in err
    tok, _ = run.ours(["sign", gw[0]], PAYLOAD)
    out, err = run.node(["verify", gw[1]], tok)
    assert out == PAYLOAD and "kid:" not in err

    # encrypt only, both ways
    tok, _ = run.node(["encrypt", pf[1]], PAYLOAD)
    out, _ = run.ours(["decrypt", pf[0]], tok)
    assert out == PAYLOAD
    tok, _ = run.ours(["encrypt", pf[1], "application/json"], PAYLOAD)
    out, _ = run.node(["decrypt", pf[0]], tok)
    assert out == PAYLOAD

    # what node jose can make and the profile forbids is refused
    tok, _ = run.node(["sign", gw[0], "gw1", "RS512"], PAYLOAD)
    run.ours(["verify", gw[1]], tok, want=ERR["SUIDO_ERR_SIGNATURE"])
    tok, _ = run.node(["encrypt", pf[1], "", "A128GCM"], PAYLOAD)
    run.ours(["decrypt", pf[0]], tok, want=ERR["SUIDO_ERR_DECRYPT"])
    # an empty payload both ways
    tok, _ = run.node(["seal", gw[0], pf[1]], b"")
    out, err = run.ours(["open", pf[0], gw[1]], tok)
    assert out == b"" and "kid:" not in err
    print("node jose: seal/open, sign/verify, encrypt/decrypt both ways; RS512, A128GCM "
          "refused")


def doc_examples():
    """{name: text} of the fenced blocks after <!-- example:name --> in
    docs/protocol-jose.md."""
    text = open(os.path.join(SOURCE, "docs", "protocol-jose.md"), encoding="utf-8").read()
    return dict(re.findall(r"<!-- example:([\w-]+) -->\n```\n(.*?)\n```", text, re.S))


def check_doc_example(run, keys):
    """The worked example of docs/protocol-jose.md is what suido and jwcrypto
    make and open: the deterministic JWS byte for byte, the JWE by opening."""
    ex = doc_examples()
    tmp = os.path.dirname(keys["gw"][0])
    for name in ("gateway-key", "gateway-pub", "platform-key", "platform-pub"):
        with open(os.path.join(tmp, name + ".pem"), "w") as f:
            f.write(ex[name] + "\n")
    path = lambda name: os.path.join(tmp, name + ".pem")  # noqa: E731
    payload = ex["payload"].encode("utf-8")
    assert "%d bytes" % len(payload) in open(os.path.join(SOURCE, "docs", "protocol-jose.md"),
                                             encoding="utf-8").read()
    jws_text, _ = run.ours(["sign", path("gateway-key"), "demo-gw1"], payload)
    assert jws_text.decode() == ex["jws"], "our JWS of the example payload differs from the doc"
    s = jws.JWS(payload)
    s.add_signature(pem_key(path("gateway-key")), alg="RS256",
                    protected=json_encode({"alg": "RS256", "kid": "demo-gw1"}))
    assert s.serialize(compact=True) == ex["jws"], "jwcrypto's JWS differs from the doc"
    out, err = run.ours(["open", path("platform-key"), path("gateway-pub")],
                        ex["sealed"].encode())
    assert out == payload and "kid: demo-gw1" in err
    e = jwe.JWE()
    e.deserialize(ex["sealed"], key=pem_key(path("platform-key")))
    assert e.payload.decode() == ex["jws"], "the doc's JWE does not hold the doc's JWS"
    print("docs/protocol-jose.md example: JWS reproduced by suido and jwcrypto, JWE opens")


def main():
    tmp = tempfile.mkdtemp(prefix="suido-jose-")
    passed = failed = 0
    try:
        run = Runner(os.path.join(BUILD, "suido"))
        keys = make_keys(tmp)
        for check in (check_jwcrypto, check_node, check_doc_example):
            try:
                check(run, keys)
                passed += 1
            except AssertionError as e:
                print("FAIL %s: %s" % (check.__name__, e))
                failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
