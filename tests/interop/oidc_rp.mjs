// A real relying party against suido's OpenID provider (tests/integration/test_oidc.py):
// npm openid-client discovers the provider, runs the authorization code flow with
// PKCE (S256) through the real sign-in page in headless Chromium (Playwright), the
// login ID, password and TOTP code typed in (codes from oathtool, an independent
// RFC 6238 implementation), changes the one-time password when the page asks,
// refreshes (rotation; the old refresh token reused revokes the family), runs
// client credentials, revokes, and ends the session. npm jose verifies every token
// against the provider's JWKS. Prints one JSON object of results on stdout.
//
// Environment: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI LOGIN PASSWORD
// NEW_PASSWORD TOTP_SECRET CHROMIUM (path) NODE_EXTRA_CA_CERTS (the platform's root).
import { execFileSync } from "node:child_process";
import * as client from "openid-client";
import * as jose from "jose";
import { chromium } from "playwright-core";

const env = (k) => {
  if (!process.env[k]) throw new Error(`missing ${k}`);
  return process.env[k];
};
const ISSUER = env("ISSUER"), REDIRECT = env("REDIRECT_URI");
const out = { steps: [] };
const step = (name, ok, detail) => {
  out.steps.push({ name, ok: !!ok, detail: detail === undefined ? null : String(detail) });
  if (!ok) throw new Error(`${name}: ${detail}`);
};
const totp = (offset = 0) =>
  execFileSync("oathtool", ["--totp", "-b", env("TOTP_SECRET"),
    ...(offset ? ["-N", `now ${offset > 0 ? "+" : "-"} ${Math.abs(offset)} seconds`] : [])])
    .toString().trim();

async function verifyAll(config, tokens, label) {
  const meta = config.serverMetadata();
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const at = await jose.jwtVerify(tokens.access_token, jwks, {
    issuer: ISSUER, typ: "at+jwt", algorithms: ["RS256"],
  });
  step(`${label}: jose verifies the access token (at+jwt, RS256)`, at.payload.client_id === env("CLIENT_ID"),
    JSON.stringify(at.payload));
  if (tokens.id_token) {
    const id = await jose.jwtVerify(tokens.id_token, jwks, {
      issuer: ISSUER, audience: env("CLIENT_ID"), algorithms: ["RS256"],
    });
    step(`${label}: jose verifies the ID token`, id.payload.sub === env("LOGIN"), JSON.stringify(id.payload));
  }
  return at.payload;
}

const browser = await chromium.launch({ executablePath: env("CHROMIUM"), headless: true });
try {
  const config = await client.discovery(new URL(ISSUER), env("CLIENT_ID"), env("CLIENT_SECRET"));
  const meta = config.serverMetadata();
  step("discovery", meta.issuer === ISSUER && meta.code_challenge_methods_supported.includes("S256"),
    meta.authorization_endpoint);

  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: "ja-JP" });
  const page = await ctx.newPage();
  let callback = null;
  // the redirect to the client, captured; then its navigation settled
  const waitCallback = async () => {
    for (let i = 0; i < 200 && !callback; i++) await page.waitForTimeout(50);
    await page.waitForLoadState("load").catch(() => {});
  };
  await ctx.route(`${REDIRECT}**`, (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: "text/plain", body: "callback" });
  });

  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState(), nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: "openid profile email ap.read", code_challenge: challenge,
    code_challenge_method: "S256", state, nonce,
  });
  await page.goto(url.href);
  step("the sign-in page is Japanese", (await page.title()).includes("サインイン"), await page.title());

  // a wrong password first: one generic message, no code
  await page.fill("#login_id", env("LOGIN"));
  await page.fill("#password", "wrong-" + env("PASSWORD"));
  await page.fill("#otp", totp());
  await page.click("#submit");
  const err = await page.textContent("#error");
  step("a wrong password is refused with a generic message", err && err.includes("正しくありません") && !callback, err);

  await page.fill("#login_id", env("LOGIN"));
  await page.fill("#password", env("PASSWORD"));
  await page.fill("#otp", totp());
  await page.click("#submit");
  if (await page.locator("#new_password").count()) {
    out.changed_password = true;
    await page.fill("#new_password", env("NEW_PASSWORD"));
    await page.fill("#new_password2", env("NEW_PASSWORD"));
    await page.click("#submit");
  }
  await waitCallback();
  step("redirected back with a code", callback && new URL(callback).searchParams.get("code"), callback);

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  step("code exchanged: ID token for the user", claims.sub === env("LOGIN"), JSON.stringify(claims));
  out.user_access_token = tokens.access_token;
  out.user_claims = await verifyAll(config, tokens, "authorization code");

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  step("userinfo", info.sub === env("LOGIN") && info.name, JSON.stringify(info));
  out.userinfo = info;

  // refresh with rotation
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  step("refresh gives a new refresh token", refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
  await verifyAll(config, refreshed, "refresh");
  let reuse = null;
  try { await client.refreshTokenGrant(config, tokens.refresh_token); } catch (e) { reuse = e.error || e.code || String(e); }
  step("the used refresh token is refused", reuse === "invalid_grant", reuse);
  let family = null;
  try { await client.refreshTokenGrant(config, refreshed.refresh_token); } catch (e) { family = e.error || e.code || String(e); }
  step("its whole family is revoked (the newer token too)", family === "invalid_grant", family);

  // a second sign-in in the same browser: the session gives a code at once
  const v2 = client.randomPKCECodeVerifier();
  callback = null;
  await page.goto(client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: "openid ap.read", code_challenge: await client.calculatePKCECodeChallenge(v2),
    code_challenge_method: "S256", state: "s2",
  }).href).catch(() => {});
  await waitCallback();
  step("a live session signs in without the form", callback && new URL(callback).searchParams.get("code"), callback);
  const t2 = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: v2, expectedState: "s2" });

  // revocation of the new family's refresh token
  await client.tokenRevocation(config, t2.refresh_token);
  let revoked = null;
  try { await client.refreshTokenGrant(config, t2.refresh_token); } catch (e) { revoked = e.error || e.code || String(e); }
  step("a revoked refresh token is refused", revoked === "invalid_grant", revoked);

  // client credentials for the application's back-end
  const cc = await client.clientCredentialsGrant(config, { scope: "ap.read" });
  const ccClaims = await verifyAll(config, cc, "client credentials");
  step("client credentials: sub is the client", ccClaims.sub === env("CLIENT_ID") && !cc.refresh_token, JSON.stringify(ccClaims));
  out.client_access_token = cc.access_token;

  // end session, back to the registered address with the state
  callback = null;
  const end = client.buildEndSessionUrl(config, { id_token_hint: t2.id_token, post_logout_redirect_uri: REDIRECT, state: "bye" });
  await page.goto(end.href).catch(() => {});
  await waitCallback();
  step("end session redirects with the state", callback && new URL(callback).searchParams.get("state") === "bye", callback);
  // and the session is gone: the authorization endpoint shows the form again
  callback = null;
  // a late commit of the logout redirect may interrupt the first navigation
  for (let i = 0; i < 3; i++) {
    try { await page.goto(url.href); break; } catch (e) { await page.waitForTimeout(100); }
  }
  step("after sign-out the form is shown again", (await page.locator("#password").count()) === 1 && !callback);
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(out) + "\n");
}
