// The npm "jose" side of tests/integration/test_jose_interop.py: seals,
// opens, signs, verifies, encrypts and decrypts data profiles the way a
// vendor's Node.js program would, with PEM keys (PKCS#8 private, SPKI
// public), stdin to stdout. Only the algorithms of docs/protocol-jose.md are
// allowed on the way in. Exit status 1 with the error on stderr on refusal.
//
//   node jose_node.mjs seal SIGNER_KEY RECIPIENT_PUB [KID]
//   node jose_node.mjs open RECIPIENT_KEY SIGNER_PUB      (kid on stderr)
//   node jose_node.mjs sign KEY [KID] [ALG] | verify PUB
//   node jose_node.mjs encrypt PUB [CTY] [ENC] | decrypt KEY
import { readFileSync } from 'node:fs';
import {
  CompactEncrypt, CompactSign, compactDecrypt, compactVerify, importPKCS8, importSPKI,
} from 'jose';

const JWS_ALG = 'RS256';
const JWE_ALG = 'RSA-OAEP';
const JWE_ENC = 'A128CBC-HS256';

const [cmd, ...args] = process.argv.slice(2);
const input = readFileSync(0);
const pem = (path) => readFileSync(path, 'utf8');
const priv = (path, alg) => importPKCS8(pem(path), alg);
const pub = (path, alg) => importSPKI(pem(path), alg);

async function sign(payload, key, kid, alg = JWS_ALG) {
  const header = kid ? { alg, kid } : { alg };
  return new CompactSign(payload).setProtectedHeader(header).sign(key);
}

async function verify(token, key) {
  const { payload, protectedHeader } = await compactVerify(token, key, { algorithms: [JWS_ALG] });
  if (protectedHeader.kid !== undefined) process.stderr.write(`kid: ${protectedHeader.kid}\n`);
  return payload;
}

async function encrypt(plaintext, key, cty, enc = JWE_ENC) {
  const header = cty ? { alg: JWE_ALG, enc, cty } : { alg: JWE_ALG, enc };
  return new CompactEncrypt(plaintext).setProtectedHeader(header).encrypt(key);
}

async function decrypt(token, key) {
  return compactDecrypt(token, key, {
    keyManagementAlgorithms: [JWE_ALG], contentEncryptionAlgorithms: [JWE_ENC],
  });
}

const token = () => input.toString('ascii').trim();
let out;
try {
  switch (cmd) {
    case 'seal': {
      const jws = await sign(input, await priv(args[0], JWS_ALG), args[2]);
      out = await encrypt(new TextEncoder().encode(jws), await pub(args[1], JWE_ALG), 'JWT');
      break;
    }
    case 'open': {
      const { plaintext, protectedHeader } = await decrypt(token(), await priv(args[0], JWE_ALG));
      if (protectedHeader.cty?.toUpperCase() !== 'JWT') throw new Error('cty is not JWT');
      out = await verify(new TextDecoder().decode(plaintext), await pub(args[1], JWS_ALG));
      break;
    }
    case 'sign':
      out = await sign(input, await priv(args[0], args[2] ?? JWS_ALG), args[1], args[2]);
      break;
    case 'verify':
      out = await verify(token(), await pub(args[0], JWS_ALG));
      break;
    case 'encrypt':
      out = await encrypt(input, await pub(args[0], JWE_ALG), args[1], args[2]);
      break;
    case 'decrypt':
      out = (await decrypt(token(), await priv(args[0], JWE_ALG))).plaintext;
      break;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
} catch (e) {
  process.stderr.write(`jose_node: ${e.code ?? ''} ${e.message}\n`);
  process.exit(1);
}
process.stdout.write(typeof out === 'string' ? out : Buffer.from(out));
