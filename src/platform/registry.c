/*
 * The registry (registry.h): tenants, vendor links, applications, grants,
 * users, TOTP and the OpenID Connect provider's state in one SQLite database
 * (WAL, synchronous=FULL, schema version in PRAGMA user_version), one
 * connection behind a mutex with its statements prepared once and kept.
 * Every public call is one transaction (BEGIN IMMEDIATE when it writes), and
 * every change of the registry's data appends its audit row inside it; the
 * audit table refuses UPDATE and DELETE by trigger. The OIDC churn (codes and
 * refresh tokens put, taken, used, revoked one by one) is not audited row by
 * row; its theft signals (a code or refresh token used twice) and the mass
 * revocations are.
 *
 * Argon2id work (about 70 ms each) is never done while holding the mutex:
 * the stored hashes are read in one critical section, verified outside it,
 * and the change is written in a second one that re-checks what it read
 * (compare and swap), so one sign-in does not stall every other call.
 *
 * Callbacks of the _list functions run while the mutex is held: they must not
 * call back into the registry.
 */
#include "registry.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <sqlite3.h>

#include "suido/error.h"
#include "suido/log.h"
#include "suido/timeutil.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
#define STMT_CACHE 128        /* distinct SQL texts in this file, with room */
#define SHA_LEN 32
#define RAND_LEN 32           /* bytes of a client secret or family id */
#define URIS_COUNT_MAX 16
#define URI_MAX 1024          /* sizeof ((struct reg_code *)0)->redirect_uri */
#define SCOPE_ENTRY_MAX 256   /* bytes of one item id or facility name, with NUL */
#define HISTORY_KEEP 24       /* previous password hashes kept per user */
#define RECOVERY_MAX 32       /* recovery code hashes read per user */
#define OTP_LEN 16
#define TOKEN_MAX 512         /* bytes of a code or token handed to us */
#define ACTION_MAX 64
#define TARGET_MAX 256
#define DETAIL_MAX 8192
/* Used codes and refresh tokens are remembered this long after they expire,
 * so a late second use still reads as a reuse, then pruned. */
#define KEEP_AFTER_EXPIRY_MS (24LL * 3600 * 1000)

/* One-time passwords: no 0/O/o, 1/I/l. */
static const char otp_alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

static const char schema_sql[] =
	"CREATE TABLE tenants("
	" id TEXT PRIMARY KEY,"
	" kind INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE links("
	" utility TEXT NOT NULL REFERENCES tenants(id),"
	" vendor TEXT NOT NULL REFERENCES tenants(id),"
	" created_ms INTEGER NOT NULL,"
	" PRIMARY KEY(utility, vendor)) WITHOUT ROWID;"
	"CREATE INDEX links_vendor ON links(vendor);"
	"CREATE TABLE apps("
	" id TEXT PRIMARY KEY,"
	" vendor TEXT NOT NULL REFERENCES tenants(id),"
	" name TEXT NOT NULL,"
	" redirect_uris TEXT NOT NULL,"
	" secret_sha256 BLOB NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX apps_vendor ON apps(vendor);"
	/* A revoked grant is deleted; the audit log keeps its history. */
	"CREATE TABLE grants("
	" app TEXT NOT NULL REFERENCES apps(id),"
	" utility TEXT NOT NULL REFERENCES tenants(id),"
	" scope TEXT NOT NULL,"
	" granted_ms INTEGER NOT NULL,"
	" PRIMARY KEY(app, utility)) WITHOUT ROWID;"
	"CREATE INDEX grants_utility ON grants(utility);"
	/* totp_secret / totp_pending are base32 text for now: encrypting them
	 * at rest under a platform key is future work (totp.h asks for it). */
	"CREATE TABLE users("
	" login TEXT PRIMARY KEY,"
	" tenant TEXT NOT NULL REFERENCES tenants(id),"
	" num INTEGER NOT NULL,"
	" name_kanji TEXT NOT NULL,"
	" name_kana TEXT NOT NULL,"
	" name_romaji TEXT NOT NULL,"
	" mail TEXT NOT NULL,"
	" phone TEXT NOT NULL,"
	" role INTEGER NOT NULL,"
	" otp_required INTEGER NOT NULL,"
	" disabled INTEGER NOT NULL,"
	" must_change INTEGER NOT NULL,"
	" password TEXT NOT NULL,"
	" password_set_ms INTEGER NOT NULL,"
	" totp_secret TEXT,"
	" totp_pending TEXT,"
	" totp_last_step INTEGER NOT NULL DEFAULT -1,"
	" created_ms INTEGER NOT NULL,"
	" UNIQUE(tenant, num)) WITHOUT ROWID;"
	/* Passwords the user chose and then replaced, newest last. */
	"CREATE TABLE password_history("
	" id INTEGER PRIMARY KEY,"
	" login TEXT NOT NULL REFERENCES users(login),"
	" hash TEXT NOT NULL);"
	"CREATE INDEX password_history_login ON password_history(login, id);"
	"CREATE TABLE recovery_codes("
	" id INTEGER PRIMARY KEY,"
	" login TEXT NOT NULL REFERENCES users(login),"
	" hash TEXT NOT NULL);"
	"CREATE INDEX recovery_codes_login ON recovery_codes(login);"
	"CREATE TABLE codes("
	" sha256 BLOB PRIMARY KEY,"
	" client TEXT NOT NULL,"
	" login TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL,"
	" challenge TEXT NOT NULL,"
	" nonce TEXT NOT NULL,"
	" scope TEXT NOT NULL,"
	" auth_time_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX codes_expires ON codes(expires_ms);"
	"CREATE TABLE refresh_families("
	" id TEXT PRIMARY KEY,"
	" client TEXT NOT NULL,"
	" login TEXT NOT NULL,"
	" code_sha256 BLOB,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX refresh_families_login ON refresh_families(login);"
	"CREATE INDEX refresh_families_client ON refresh_families(client);"
	"CREATE INDEX refresh_families_code ON refresh_families(code_sha256)"
	" WHERE code_sha256 IS NOT NULL;"
	"CREATE TABLE refresh_tokens("
	" sha256 BLOB PRIMARY KEY,"
	" family TEXT NOT NULL REFERENCES refresh_families(id),"
	" scope TEXT NOT NULL,"
	" auth_time_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_ms);"
	/* seq is the rowid: writers are serialised by BEGIN IMMEDIATE and rows
	 * are never deleted, so it grows in order of commit without gaps. */
	/* gateways: owned by a utility, built by a vendor (NULL until known);
	 * registered for the GW interface by platform.conf */
	"CREATE TABLE gateways("
	" id TEXT PRIMARY KEY,"
	" utility TEXT NOT NULL REFERENCES tenants(id),"
	" vendor TEXT REFERENCES tenants(id),"
	" created_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX gateways_utility ON gateways(utility);"
	"CREATE TABLE audit("
	" seq INTEGER PRIMARY KEY,"
	" at_ms INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" detail TEXT NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"PRAGMA user_version = 1;";

struct registry {
	pthread_mutex_t mu;
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	size_t ncache;
};

/* ---- small helpers ---------------------------------------------------------- */

static void lock(struct registry *r)
{
	int rc = pthread_mutex_lock(&r->mu);

	assert(rc == 0);
	(void)rc;
}

static void unlock(struct registry *r)
{
	int rc = pthread_mutex_unlock(&r->mu);

	assert(rc == 0);
	(void)rc;
}

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF) without C0, DEL or C1 control characters. */
static int text_clean(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, need;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* 1 when s is NUL-terminated within cap bytes, clean text, and not empty
 * unless allow_empty. */
static int text_ok(const char *s, size_t cap, int allow_empty)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, cap);
	if (n >= cap || (n == 0 && !allow_empty))
		return 0;
	return text_clean((const unsigned char *)s, n);
}

/* Identifier syntax of registry.h. */
static int id_ok(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, REG_ID_MAX);
	if (n == 0 || n >= REG_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
			return 0;
	}
	return 1;
}

static int check_id(const char *what, const char *s, char *err, size_t errlen)
{
	if (id_ok(s))
		return SUIDO_OK;
	suido_errf(err, errlen, "%s: not an identifier (1-%d of a-z 0-9 - _ .)", what,
		   REG_ID_MAX - 1);
	return SUIDO_ERR_INVALID;
}

static int check_actor(const char *actor, char *err, size_t errlen)
{
	if (text_ok(actor, REG_ACTOR_MAX, 0))
		return SUIDO_OK;
	suido_errf(err, errlen, "actor: empty, too long or not clean UTF-8");
	return SUIDO_ERR_INVALID;
}

static int sha256(const void *data, size_t len, unsigned char out[SHA_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA_LEN)
		return SUIDO_ERR_CONFIG;
	return SUIDO_OK;
}

/* Hashes a secret handed in by a client (a code, token or client secret);
 * INVALID for an empty or over-long one. */
static int secret_digest(const char *s, unsigned char out[SHA_LEN])
{
	size_t n;

	if (!s)
		return SUIDO_ERR_INVALID;
	n = strnlen(s, TOKEN_MAX);
	if (n == 0 || n >= TOKEN_MAX)
		return SUIDO_ERR_INVALID;
	return sha256(s, n, out);
}

/* 256 random bits as 43 base64url characters. */
static int random_text(char out[REG_SECRET_TEXT])
{
	unsigned char raw[RAND_LEN];
	int ret = SUIDO_OK;

	if (RAND_bytes(raw, sizeof raw) != 1)
		ret = SUIDO_ERR_CONFIG;
	else
		sodium_bin2base64(out, REG_SECRET_TEXT, raw, sizeof raw,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	OPENSSL_cleanse(raw, sizeof raw);
	return ret;
}

_Static_assert(REG_SECRET_TEXT ==
		       sodium_base64_ENCODED_LEN(RAND_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	       "secret text size");

/* A one-time password of OTP_LEN characters that the default policy accepts
 * (checked, not assumed), and its Argon2id hash. Costs one hash. */
static int otp_make(char otp[REG_OTP_TEXT], char hash[PASSWORD_HASH_MAX])
{
	struct password_policy pol;
	enum password_reason reason = PASSWORD_TOO_SHORT;
	const unsigned n = sizeof otp_alphabet - 1, lim = 256 - 256 % n;
	unsigned char buf[64];
	int ret;

	_Static_assert(OTP_LEN < REG_OTP_TEXT, "otp size");
	password_policy_defaults(&pol);
	for (int tries = 0; tries < 100 && reason != PASSWORD_ACCEPTABLE; tries++) {
		size_t len = 0;

		while (len < OTP_LEN) {
			if (RAND_bytes(buf, sizeof buf) != 1) {
				ret = SUIDO_ERR_CONFIG;
				goto cleanup;
			}
			for (size_t i = 0; i < sizeof buf && len < OTP_LEN; i++)
				if (buf[i] < lim) /* no modulo bias */
					otp[len++] = otp_alphabet[buf[i] % n];
		}
		otp[len] = '\0';
		ret = password_check(&pol, NULL, NULL, otp, len, &reason);
		if (ret != SUIDO_OK)
			goto cleanup;
	}
	if (reason != PASSWORD_ACCEPTABLE) {
		ret = SUIDO_ERR_CONFIG;
		goto cleanup;
	}
	ret = password_hash(otp, OTP_LEN, hash);
cleanup:
	OPENSSL_cleanse(buf, sizeof buf);
	if (ret != SUIDO_OK)
		OPENSSL_cleanse(otp, REG_OTP_TEXT);
	return ret;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* ---- statements --------------------------------------------------------------- */

/* The statement of sql, prepared on first use and kept for the connection's
 * life. The cache is keyed by the address of the literal. */
static int prep(struct registry *r, const char *sql, sqlite3_stmt **out)
{
	int rc;

	for (size_t i = 0; i < r->ncache; i++)
		if (r->cache[i].sql == sql) {
			*out = r->cache[i].st;
			return SQLITE_OK;
		}
	assert(r->ncache < STMT_CACHE);
	rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return rc;
	r->cache[r->ncache].sql = sql;
	r->cache[r->ncache].st = *out;
	r->ncache++;
	return SQLITE_OK;
}

static void q_end(sqlite3_stmt *st)
{
	if (st)
		sqlite3_reset(st);
}

/*
 * Prepares sql, binds the arguments described by fmt ('t' const char *, NULL
 * binds NULL; 'i' int64_t; 'h' a SHA_LEN-byte digest, NULL binds NULL) and
 * steps once. Returns SQLite's code. On SQLITE_ROW with out not NULL, *out
 * is the statement on its first row and the caller ends it with q_end();
 * otherwise the statement is reset here.
 */
static int q_vstep(struct registry *r, sqlite3_stmt **out, const char *sql, const char *fmt,
		   va_list ap)
{
	sqlite3_stmt *st;
	int rc;

	if (out)
		*out = NULL;
	rc = prep(r, sql, &st);
	if (rc != SQLITE_OK)
		return rc;
	for (int i = 1; fmt[i - 1] && rc == SQLITE_OK; i++) {
		const char *s;
		const unsigned char *h;

		switch (fmt[i - 1]) {
		case 't':
			s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
			       : sqlite3_bind_null(st, i);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'h':
			h = va_arg(ap, const unsigned char *);
			rc = h ? sqlite3_bind_blob(st, i, h, SHA_LEN, SQLITE_STATIC)
			       : sqlite3_bind_null(st, i);
			break;
		default:
			assert(!"bad bind format");
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (out && rc == SQLITE_ROW)
		*out = st;
	else
		sqlite3_reset(st);
	return rc;
}

static int q_step(struct registry *r, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = q_vstep(r, out, sql, fmt, ap);
	va_end(ap);
	return rc;
}

/* Maps a failed SQLite call to the registry's codes with the engine's
 * message in err. */
static int dberr(struct registry *r, int rc, char *err, size_t errlen)
{
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		suido_errf(err, errlen, "already exists");
		return SUIDO_ERR_EXISTS;
	}
	suido_errf(err, errlen, "registry database: %s", sqlite3_errmsg(r->db));
	if ((rc & 0xff) == SQLITE_NOMEM)
		return SUIDO_ERR_NOMEM;
	return SUIDO_ERR_DB;
}

/* Fills a record from the current row of a query. */
typedef void (*row_fn)(sqlite3_stmt *st, void *out);

/* Runs a query of at most one row (sql bound as q_step) under the lock and
 * fills out with row. SUIDO_OK, SUIDO_ERR_NOTFOUND, SUIDO_ERR_DB. */
static int get_row(struct registry *r, row_fn row, void *out, const char *sql, const char *fmt,
		   ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc, ret;

	lock(r);
	va_start(ap, fmt);
	rc = q_vstep(r, &st, sql, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_ROW) {
		row(st, out);
		q_end(st);
		ret = SUIDO_OK;
	} else {
		ret = rc == SQLITE_DONE ? SUIDO_ERR_NOTFOUND : dberr(r, rc, NULL, 0);
	}
	unlock(r);
	return ret;
}

/* A list's caller; each calls its typed callback (see LIST_EMIT). */
struct emit {
	int (*each)(const struct emit *e, const void *rec);
};

/*
 * Runs a query under the lock; for each row fills rec (size bytes, allocated
 * here: some records are KiBs) with row and hands it to e->each; a non-zero
 * return stops and is returned. SUIDO_OK, SUIDO_ERR_DB, SUIDO_ERR_NOMEM. The
 * callback runs under the registry's lock and must not call the registry.
 */
static int list_rows(struct registry *r, row_fn row, size_t size, const struct emit *e,
		     const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	void *rec = malloc(size);
	int rc, ret = SUIDO_OK;

	if (!rec)
		return SUIDO_ERR_NOMEM;
	lock(r);
	va_start(ap, fmt);
	rc = q_vstep(r, &st, sql, fmt, ap);
	va_end(ap);
	while (rc == SQLITE_ROW) {
		row(st, rec);
		ret = e->each(e, rec);
		if (ret != 0)
			break;
		rc = sqlite3_step(st);
	}
	q_end(st);
	if (ret == SUIDO_OK && rc != SQLITE_DONE)
		ret = dberr(r, rc, NULL, 0);
	unlock(r);
	free(rec);
	return ret;
}

/* A struct name holding a typed list callback and its context behind a
 * struct emit, and name_each calling it: no function pointer is cast. */
#define LIST_EMIT(name, type)                                                                 \
	struct name {                                                                         \
		struct emit e;                                                                \
		int (*cb)(void *ctx, const type *rec);                                        \
		void *ctx;                                                                    \
	};                                                                                    \
	static int name##_each(const struct emit *e, const void *rec)                        \
	{                                                                                     \
		const struct name *x = (const struct name *)e;                                \
		return x->cb(x->ctx, rec);                                                    \
	}

/* Runs a statement that answers no row. SUIDO_OK or as dberr. */
#define EXEC(r, err, errlen, sql, ...)                                                          \
	exec_rc((r), q_step((r), NULL, (sql), __VA_ARGS__), (err), (errlen))

static int exec_rc(struct registry *r, int rc, char *err, size_t errlen)
{
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SUIDO_OK : dberr(r, rc, err, errlen);
}

static int begin(struct registry *r, int write, char *err, size_t errlen)
{
	int rc = q_step(r, NULL, write ? "BEGIN IMMEDIATE" : "BEGIN", "");

	return rc == SQLITE_DONE ? SUIDO_OK : dberr(r, rc, err, errlen);
}

/* Commits when ret is SUIDO_OK, else rolls back; returns the outcome. */
static int finish(struct registry *r, int ret, char *err, size_t errlen)
{
	if (ret == SUIDO_OK) {
		int rc = q_step(r, NULL, "COMMIT", "");

		/* After a failed fsync the kernel may have dropped the pages and
		 * a retry would report success over lost data: stop instead. */
		if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC)
			fatal("registry", "commit: fsync failed: %s", sqlite3_errmsg(r->db));
		if (rc != SQLITE_DONE)
			ret = dberr(r, rc, err, errlen);
	}
	if (!sqlite3_get_autocommit(r->db)) {
		int rc = q_step(r, NULL, "ROLLBACK", "");

		if (rc != SQLITE_DONE)
			log_error("registry", "rollback: %s", sqlite3_errmsg(r->db));
	}
	return ret;
}

/* Appends an audit row in the current transaction; takes detail (NULL:
 * out of memory while building it). */
static int audit_add(struct registry *r, const char *actor, const char *action,
		     const char *target, json_t *detail, uint64_t now_ms, char *err, size_t errlen)
{
	char *text;
	int ret;

	if (!detail) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (!text) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	ret = EXEC(r, err, errlen,
		   "INSERT INTO audit(at_ms, actor, action, target, detail)"
		   " VALUES(?1, ?2, ?3, ?4, ?5)",
		   "itttt", (int64_t)now_ms, actor, action, target, text);
	free(text);
	return ret;
}

/* ---- open / close ------------------------------------------------------------- */

static int schema(struct registry *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, version, tables, ret;

	ret = begin(r, 1, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	rc = q_step(r, &st, "SELECT (SELECT user_version FROM pragma_user_version),"
		    " (SELECT count(*) FROM sqlite_master)", "");
	if (rc != SQLITE_ROW) {
		ret = dberr(r, rc, err, errlen);
		goto done;
	}
	version = sqlite3_column_int(st, 0);
	tables = sqlite3_column_int(st, 1);
	q_end(st);
	if (version == 0 && tables == 0) {
		rc = sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			ret = dberr(r, rc, err, errlen);
	} else if (version <= 0) {
		suido_errf(err, errlen, "not a registry database (tables but no user_version)");
		ret = SUIDO_ERR_DB;
	} else if (version > SCHEMA_VERSION) {
		suido_errf(err, errlen, "registry schema version %d is newer than this program's (%d)",
			   version, SCHEMA_VERSION);
		ret = SUIDO_ERR_DB;
	}
	/* Migrations from older versions go here, in this transaction. */
done:
	return finish(r, ret, err, errlen);
}

void registry_close(struct registry *r)
{
	int rc;

	if (!r)
		return;
	for (size_t i = 0; i < r->ncache; i++)
		sqlite3_finalize(r->cache[i].st);
	rc = sqlite3_close(r->db);
	if (rc != SQLITE_OK)
		log_error("registry", "close: %s", sqlite3_errstr(rc));
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int registry_open(const char *path, struct registry **out, char *err, size_t errlen)
{
	struct registry *r;
	sqlite3_stmt *st = NULL;
	int rc, ret = SUIDO_ERR_DB;

	*out = NULL;
	if (sodium_init() < 0) {
		suido_errf(err, errlen, "libsodium cannot be initialised");
		return SUIDO_ERR_CONFIG;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		suido_errf(err, errlen, "cannot create a mutex");
		return SUIDO_ERR_NOMEM;
	}
	/* NOMUTEX: the registry's own mutex serialises the connection. */
	rc = sqlite3_open_v2(path, &r->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "%s: %s", path,
			   r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
		ret = rc == SQLITE_NOMEM ? SUIDO_ERR_NOMEM
		      : (rc & 0xff) == SQLITE_CANTOPEN ? SUIDO_ERR_IO : SUIDO_ERR_DB;
		goto cleanup;
	}
	sqlite3_extended_result_codes(r->db, 1);
	sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS);
	rc = q_step(r, &st, "PRAGMA journal_mode=WAL", "");
	if (rc != SQLITE_ROW) {
		suido_errf(err, errlen, "%s: %s", path, sqlite3_errmsg(r->db));
		goto cleanup;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		suido_errf(err, errlen, "%s: cannot use the WAL journal", path);
		q_end(st);
		goto cleanup;
	}
	q_end(st);
	rc = sqlite3_exec(r->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK) {
		suido_errf(err, errlen, "%s: %s", path, sqlite3_errmsg(r->db));
		goto cleanup;
	}
	ret = schema(r, err, errlen);
	if (ret != SUIDO_OK)
		goto cleanup;
	*out = r;
	r = NULL;
cleanup:
	registry_close(r);
	return ret;
}

/* ---- tenants ------------------------------------------------------------------ */

static const char *const kind_names[] = {"operator", "utility", "vendor"};

const char *registry_kind_name(enum reg_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "unknown";
}

int registry_kind_parse(const char *s, enum reg_kind *out)
{
	for (unsigned i = 0; s && i < 3; i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum reg_kind)i;
			return SUIDO_OK;
		}
	return SUIDO_ERR_INVALID;
}

static int check_tenant(const struct reg_tenant *t, char *err, size_t errlen)
{
	int ret = check_id("tenant id", t->id, err, errlen);

	if (ret != SUIDO_OK)
		return ret;
	if ((unsigned)t->kind > REG_VENDOR) {
		suido_errf(err, errlen, "tenant %s: unknown kind %d", t->id, (int)t->kind);
		return SUIDO_ERR_INVALID;
	}
	if (!text_ok(t->name, REG_NAME_MAX, 0)) {
		suido_errf(err, errlen, "tenant %s: name empty, too long or not clean UTF-8", t->id);
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

/* The kind of tenant id into *kind: SUIDO_OK, NOTFOUND or as dberr. */
static int tenant_kind(struct registry *r, const char *id, int *kind, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = q_step(r, &st, "SELECT kind FROM tenants WHERE id = ?1", "t", id);

	if (rc == SQLITE_ROW) {
		*kind = sqlite3_column_int(st, 0);
		q_end(st);
		return SUIDO_OK;
	}
	if (rc == SQLITE_DONE) {
		suido_errf(err, errlen, "no tenant %s", id);
		return SUIDO_ERR_NOTFOUND;
	}
	return dberr(r, rc, err, errlen);
}

static int tenant_add_tx(struct registry *r, const char *actor, const struct reg_tenant *t,
			 uint64_t now_ms, char *err, size_t errlen)
{
	int ret = EXEC(r, err, errlen,
		       "INSERT INTO tenants(id, kind, name, created_ms) VALUES(?1, ?2, ?3, ?4)",
		       "titi", t->id, (int64_t)t->kind, t->name, (int64_t)now_ms);

	if (ret == SUIDO_ERR_EXISTS)
		suido_errf(err, errlen, "tenant %s exists", t->id);
	if (ret != SUIDO_OK)
		return ret;
	return audit_add(r, actor, "tenant.add", t->id,
			 json_pack("{s:s, s:s}", "kind", registry_kind_name(t->kind), "name",
				   t->name),
			 now_ms, err, errlen);
}

int registry_tenant_add(struct registry *r, const char *actor, const struct reg_tenant *t,
			uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_tenant(t, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_add_tx(r, actor, t, now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

int registry_tenant_ensure(struct registry *r, const char *actor, const struct reg_tenant *t,
			   uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen), kind;

	if (ret == SUIDO_OK)
		ret = check_tenant(t, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, t->id, &kind, err, errlen);
	if (ret == SUIDO_OK && kind != (int)t->kind) {
		suido_errf(err, errlen, "tenant %s exists as a %s", t->id,
			   registry_kind_name((enum reg_kind)kind));
		ret = SUIDO_ERR_EXISTS;
	} else if (ret == SUIDO_ERR_NOTFOUND) {
		ret = tenant_add_tx(r, actor, t, now_ms, err, errlen);
	}
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

static void tenant_row(sqlite3_stmt *st, void *out)
{
	struct reg_tenant *t = out;

	memset(t, 0, sizeof *t);
	copy_col(t->id, sizeof t->id, st, 0);
	t->kind = (enum reg_kind)sqlite3_column_int(st, 1);
	copy_col(t->name, sizeof t->name, st, 2);
	t->created_ms = sqlite3_column_int64(st, 3);
}

int registry_tenant_get(struct registry *r, const char *id, struct reg_tenant *out)
{
	if (!id_ok(id))
		return SUIDO_ERR_INVALID;
	return get_row(r, tenant_row, out,
		       "SELECT id, kind, name, created_ms FROM tenants WHERE id = ?1", "t", id);
}

LIST_EMIT(tenant_emit, struct reg_tenant)

int registry_tenant_list(struct registry *r, int kind,
			 int (*cb)(void *ctx, const struct reg_tenant *t), void *ctx)
{
	struct tenant_emit e = {{tenant_emit_each}, cb, ctx};

	return list_rows(r, tenant_row, sizeof(struct reg_tenant), &e.e,
			 "SELECT id, kind, name, created_ms FROM tenants"
			 " WHERE ?1 < 0 OR kind = ?1 ORDER BY id",
			 "i", (int64_t)kind);
}

/* ---- links -------------------------------------------------------------------- */

/* Checks that utility and vendor name tenants of those kinds. */
static int link_kinds(struct registry *r, const char *utility, const char *vendor, char *err,
		      size_t errlen)
{
	int ku, kv, ret = tenant_kind(r, utility, &ku, err, errlen);

	if (ret == SUIDO_OK)
		ret = tenant_kind(r, vendor, &kv, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	if (ku != REG_UTILITY || kv != REG_VENDOR) {
		suido_errf(err, errlen, "a link joins a utility to a vendor (%s is a %s, %s a %s)",
			   utility, registry_kind_name((enum reg_kind)ku), vendor,
			   registry_kind_name((enum reg_kind)kv));
		return SUIDO_ERR_PERM;
	}
	return SUIDO_OK;
}

int registry_link_add(struct registry *r, const char *actor, const char *utility,
		      const char *vendor, uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("utility", utility, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("vendor", vendor, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = link_kinds(r, utility, vendor, err, errlen);
	if (ret == SUIDO_OK) {
		ret = EXEC(r, err, errlen,
			   "INSERT INTO links(utility, vendor, created_ms) VALUES(?1, ?2, ?3)", "tti",
			   utility, vendor, (int64_t)now_ms);
		if (ret == SUIDO_ERR_EXISTS)
			suido_errf(err, errlen, "%s is already linked to %s", vendor, utility);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "link.add", utility, json_pack("{s:s}", "vendor", vendor),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

int registry_link_remove(struct registry *r, const char *actor, const char *utility,
			 const char *vendor, uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen), n = 0;

	if (ret == SUIDO_OK)
		ret = check_id("utility", utility, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("vendor", vendor, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "DELETE FROM links WHERE utility = ?1 AND vendor = ?2",
			   "tt", utility, vendor);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "%s is not linked to %s", vendor, utility);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK) {
		ret = EXEC(r, err, errlen,
			   "DELETE FROM grants WHERE utility = ?1"
			   " AND app IN (SELECT id FROM apps WHERE vendor = ?2)",
			   "tt", utility, vendor);
		n = sqlite3_changes(r->db);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "link.remove", utility,
				json_pack("{s:s, s:i}", "vendor", vendor, "grants_revoked", n),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

static void link_row(sqlite3_stmt *st, void *out)
{
	struct reg_link *l = out;

	memset(l, 0, sizeof *l);
	copy_col(l->utility, sizeof l->utility, st, 0);
	copy_col(l->vendor, sizeof l->vendor, st, 1);
	l->created_ms = sqlite3_column_int64(st, 2);
}

LIST_EMIT(link_emit, struct reg_link)

int registry_link_list(struct registry *r, const char *utility, const char *vendor,
		       int (*cb)(void *ctx, const struct reg_link *l), void *ctx)
{
	struct link_emit e = {{link_emit_each}, cb, ctx};

	if ((utility && !id_ok(utility)) || (vendor && !id_ok(vendor)))
		return SUIDO_ERR_INVALID;
	return list_rows(r, link_row, sizeof(struct reg_link), &e.e,
			 "SELECT utility, vendor, created_ms FROM links"
			 " WHERE (?1 IS NULL OR utility = ?1) AND (?2 IS NULL OR vendor = ?2)"
			 " ORDER BY utility, vendor",
			 "tt", utility, vendor);
}

int registry_linked(struct registry *r, const char *utility, const char *vendor)
{
	int rc;

	if (!id_ok(utility) || !id_ok(vendor))
		return 0;
	lock(r);
	rc = q_step(r, NULL, "SELECT 1 FROM links WHERE utility = ?1 AND vendor = ?2", "tt",
		    utility, vendor);
	unlock(r);
	return rc == SQLITE_ROW;
}

/* ---- applications ------------------------------------------------------------- */

/* 1 when u is an absolute https URI, or http on a loopback host, without
 * fragment, userinfo, spaces or non-ASCII bytes. */
static int uri_ok(const char *u)
{
	size_t n = strlen(u), hl;
	const char *a, *end, *host_end;
	int https;

	if (n == 0 || n >= URI_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\')
			return 0;
	}
	if (strncmp(u, "https://", 8) == 0) {
		https = 1;
		a = u + 8;
	} else if (strncmp(u, "http://", 7) == 0) {
		https = 0;
		a = u + 7;
	} else {
		return 0;
	}
	end = a + strcspn(a, "/?");
	if (memchr(a, '@', (size_t)(end - a)))
		return 0;
	if (*a == '[') {
		const char *rb = memchr(a, ']', (size_t)(end - a));

		if (!rb)
			return 0;
		host_end = rb + 1;
	} else {
		host_end = a + strcspn(a, ":/?");
	}
	hl = (size_t)(host_end - a);
	if (hl == 0 || (*a == '[' && hl < 4))
		return 0;
	if (host_end < end) {
		const char *p = host_end + 1;

		if (*host_end != ':' || p == end || end - p > 5)
			return 0;
		for (; p < end; p++)
			if (*p < '0' || *p > '9')
				return 0;
	}
	if (!https && !(hl == 9 && memcmp(a, "127.0.0.1", 9) == 0) &&
	    !(hl == 5 && memcmp(a, "[::1]", 5) == 0) && !(hl == 9 && memcmp(a, "localhost", 9) == 0))
		return 0;
	return 1;
}

/* Validates a redirect URI list and writes its compact form into *canon
 * (caller frees). SUIDO_OK, INVALID with detail, NOMEM. */
static int uris_check(const char *json, char **canon, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = NULL, *v;
	size_t i;
	int ret = SUIDO_ERR_INVALID;

	*canon = NULL;
	if (!json || strnlen(json, REG_URIS_MAX) >= REG_URIS_MAX) {
		suido_errf(err, errlen, "redirect URIs: missing or over %d bytes", REG_URIS_MAX - 1);
		return SUIDO_ERR_INVALID;
	}
	j = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_array(j)) {
		suido_errf(err, errlen, "redirect URIs: not a JSON array");
		goto cleanup;
	}
	if (json_array_size(j) > URIS_COUNT_MAX) {
		suido_errf(err, errlen, "redirect URIs: more than %d", URIS_COUNT_MAX);
		goto cleanup;
	}
	json_array_foreach(j, i, v) {
		if (!json_is_string(v) || !uri_ok(json_string_value(v))) {
			suido_errf(err, errlen,
				   "redirect URI %zu: not https (or http on 127.0.0.1, [::1], "
				   "localhost), or with a fragment",
				   i + 1);
			goto cleanup;
		}
	}
	*canon = json_dumps(j, JSON_COMPACT);
	if (!*canon) {
		ret = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	if (strlen(*canon) >= REG_URIS_MAX) {
		suido_errf(err, errlen, "redirect URIs: over %d bytes", REG_URIS_MAX - 1);
		free(*canon);
		*canon = NULL;
		goto cleanup;
	}
	ret = SUIDO_OK;
cleanup:
	json_decref(j);
	return ret;
}

/* A fresh client secret into text and its digest. */
static int secret_new(char text[REG_SECRET_TEXT], unsigned char digest[SHA_LEN])
{
	int ret = random_text(text);

	if (ret == SUIDO_OK)
		ret = sha256(text, strlen(text), digest);
	if (ret != SUIDO_OK)
		OPENSSL_cleanse(text, REG_SECRET_TEXT);
	return ret;
}

int registry_app_add(struct registry *r, const char *actor, const struct reg_app *a,
		     char secret[REG_SECRET_TEXT], uint64_t now_ms, char *err, size_t errlen)
{
	char text[REG_SECRET_TEXT], *uris = NULL;
	unsigned char digest[SHA_LEN];
	int ret = check_actor(actor, err, errlen), kind;

	if (ret == SUIDO_OK)
		ret = check_id("application id", a->id, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("vendor", a->vendor, err, errlen);
	if (ret == SUIDO_OK && !text_ok(a->name, REG_NAME_MAX, 0)) {
		suido_errf(err, errlen, "application name empty, too long or not clean UTF-8");
		ret = SUIDO_ERR_INVALID;
	}
	if (ret == SUIDO_OK)
		ret = uris_check(a->redirect_uris, &uris, err, errlen);
	if (ret == SUIDO_OK)
		ret = secret_new(text, digest);
	if (ret != SUIDO_OK)
		goto cleanup;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, a->vendor, &kind, err, errlen);
	if (ret == SUIDO_OK && kind != REG_VENDOR) {
		suido_errf(err, errlen, "%s is not a vendor", a->vendor);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK) {
		ret = EXEC(r, err, errlen,
			   "INSERT INTO apps(id, vendor, name, redirect_uris, secret_sha256, revoked,"
			   " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)",
			   "tttthi", a->id, a->vendor, a->name, uris, digest, (int64_t)now_ms);
		if (ret == SUIDO_ERR_EXISTS)
			suido_errf(err, errlen, "application %s exists", a->id);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "app.add", a->id,
				json_pack("{s:s, s:s, s:s}", "vendor", a->vendor, "name", a->name,
					  "redirect_uris", uris),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK)
		memcpy(secret, text, REG_SECRET_TEXT);
cleanup:
	OPENSSL_cleanse(text, sizeof text);
	free(uris);
	return ret;
}

int registry_app_rotate_secret(struct registry *r, const char *actor, const char *id,
			       char secret[REG_SECRET_TEXT], uint64_t now_ms, char *err,
			       size_t errlen)
{
	char text[REG_SECRET_TEXT];
	unsigned char digest[SHA_LEN];
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("application id", id, err, errlen);
	if (ret == SUIDO_OK)
		ret = secret_new(text, digest);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "UPDATE apps SET secret_sha256 = ?2 WHERE id = ?1", "th",
			   id, digest);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no application %s", id);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "app.secret", id, json_object(), now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK)
		memcpy(secret, text, REG_SECRET_TEXT);
	OPENSSL_cleanse(text, sizeof text);
	return ret;
}

int registry_app_set_redirect_uris(struct registry *r, const char *actor, const char *id,
				   const char *uris_json, uint64_t now_ms, char *err, size_t errlen)
{
	char *uris = NULL;
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("application id", id, err, errlen);
	if (ret == SUIDO_OK)
		ret = uris_check(uris_json, &uris, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "UPDATE apps SET redirect_uris = ?2 WHERE id = ?1", "tt",
			   id, uris);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no application %s", id);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "app.redirect_uris", id,
				json_pack("{s:s}", "redirect_uris", uris), now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	free(uris);
	return ret;
}

int registry_app_set_revoked(struct registry *r, const char *actor, const char *id, int revoked,
			     uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen), n = 0;

	revoked = revoked != 0;
	if (ret == SUIDO_OK)
		ret = check_id("application id", id, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "UPDATE apps SET revoked = ?2 WHERE id = ?1", "ti", id,
			   (int64_t)revoked);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no application %s", id);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK && revoked) {
		ret = EXEC(r, err, errlen,
			   "UPDATE refresh_families SET revoked = 1 WHERE client = ?1 AND revoked = 0",
			   "t", id);
		n = sqlite3_changes(r->db);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, revoked ? "app.revoke" : "app.reinstate", id,
				revoked ? json_pack("{s:i}", "refresh_families_revoked", n)
					: json_object(),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

static void app_row(sqlite3_stmt *st, void *out)
{
	struct reg_app *a = out;

	memset(a, 0, sizeof *a);
	copy_col(a->id, sizeof a->id, st, 0);
	copy_col(a->vendor, sizeof a->vendor, st, 1);
	copy_col(a->name, sizeof a->name, st, 2);
	copy_col(a->redirect_uris, sizeof a->redirect_uris, st, 3);
	a->revoked = sqlite3_column_int(st, 4);
	a->created_ms = sqlite3_column_int64(st, 5);
}

#define APP_COLS "SELECT id, vendor, name, redirect_uris, revoked, created_ms FROM apps"

int registry_app_get(struct registry *r, const char *id, struct reg_app *out)
{
	if (!id_ok(id))
		return SUIDO_ERR_INVALID;
	return get_row(r, app_row, out, APP_COLS " WHERE id = ?1", "t", id);
}

LIST_EMIT(app_emit, struct reg_app)

int registry_app_list(struct registry *r, const char *vendor,
		      int (*cb)(void *ctx, const struct reg_app *a), void *ctx)
{
	struct app_emit e = {{app_emit_each}, cb, ctx};

	if (vendor && !id_ok(vendor))
		return SUIDO_ERR_INVALID;
	return list_rows(r, app_row, sizeof(struct reg_app), &e.e,
			 APP_COLS " WHERE ?1 IS NULL OR vendor = ?1 ORDER BY id", "t", vendor);
}

int registry_app_authenticate(struct registry *r, const char *id, const char *secret)
{
	unsigned char digest[SHA_LEN];
	sqlite3_stmt *st;
	int rc, ret = SUIDO_ERR_PERM;

	if (!id_ok(id) || secret_digest(secret, digest) != SUIDO_OK)
		return SUIDO_ERR_PERM;
	lock(r);
	rc = q_step(r, &st, "SELECT secret_sha256, revoked FROM apps WHERE id = ?1", "t", id);
	if (rc == SQLITE_ROW) {
		const void *stored = sqlite3_column_blob(st, 0);

		if (stored && sqlite3_column_bytes(st, 0) == SHA_LEN &&
		    CRYPTO_memcmp(stored, digest, SHA_LEN) == 0 && sqlite3_column_int(st, 1) == 0)
			ret = SUIDO_OK;
		q_end(st);
	} else if (rc != SQLITE_DONE) {
		dberr(r, rc, NULL, 0);
	}
	unlock(r);
	return ret;
}

int registry_app_redirect_ok(struct registry *r, const char *id, const char *uri)
{
	int rc;

	if (!id_ok(id) || !uri)
		return 0;
	lock(r);
	rc = q_step(r, NULL,
		    "SELECT 1 FROM apps, json_each(apps.redirect_uris) j"
		    " WHERE apps.id = ?1 AND j.type = 'text' AND j.value = ?2",
		    "tt", id, uri);
	unlock(r);
	return rc == SQLITE_ROW;
}

/* ---- grants ------------------------------------------------------------------- */

static int scope_list_ok(json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !text_ok(json_string_value(e), SCOPE_ENTRY_MAX, 0))
			return 0;
	}
	return 1;
}

/* Parses and validates a scope: {"all":true} alone, or an object with at
 * most "items" and "facilities", arrays of non-empty clean strings. */
static json_t *scope_load(const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j, *v;
	const char *key;

	if (!text || strnlen(text, REG_SCOPE_MAX) >= REG_SCOPE_MAX) {
		suido_errf(err, errlen, "scope: missing or over %d bytes", REG_SCOPE_MAX - 1);
		return NULL;
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		suido_errf(err, errlen, "scope: not a JSON object");
		json_decref(j);
		return NULL;
	}
	json_object_foreach(j, key, v) {
		int ok;

		if (strcmp(key, "all") == 0)
			ok = json_is_true(v) && json_object_size(j) == 1;
		else if (strcmp(key, "items") == 0 || strcmp(key, "facilities") == 0)
			ok = scope_list_ok(v);
		else
			ok = 0;
		if (!ok) {
			suido_errf(err, errlen,
				   "scope: {\"all\":true} or {\"items\":[...], \"facilities\":[...]}"
				   " of non-empty strings, nothing else");
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* A parsed scope: "all", or the sets of item ids and facility names (JSON
 * objects used as sets: one look-up per item, however long the lists). */
struct reg_scope {
	int all;
	json_t *items, *facilities;
};

/* The strings of list as the keys of a new JSON object. */
static json_t *as_set(json_t *list)
{
	json_t *set = json_object(), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		if (set && json_object_set_new(set, json_string_value(e), json_true()) != 0) {
			json_decref(set);
			return NULL;
		}
	}
	return set;
}

struct reg_scope *registry_scope_parse(const char *scope_json)
{
	json_t *j = scope_load(scope_json, NULL, 0), *v;
	struct reg_scope *s;

	if (!j)
		return NULL;
	if (!(s = calloc(1, sizeof *s))) {
		json_decref(j);
		return NULL;
	}
	s->all = json_is_true(json_object_get(j, "all"));
	if (!s->all && (((v = json_object_get(j, "items")) && !(s->items = as_set(v))) ||
			((v = json_object_get(j, "facilities")) && !(s->facilities = as_set(v))))) {
		registry_scope_free(s);
		s = NULL;
	}
	json_decref(j);
	return s;
}

int registry_scope_all(const struct reg_scope *s)
{
	return s && s->all;
}

int registry_scope_has(const struct reg_scope *s, const char *item, const char *facility)
{
	if (!s)
		return 0;
	return s->all || (item && s->items && json_object_get(s->items, item)) ||
	       (facility && *facility && s->facilities && json_object_get(s->facilities, facility));
}

void registry_scope_free(struct reg_scope *s)
{
	if (!s)
		return;
	json_decref(s->items);
	json_decref(s->facilities);
	free(s);
}

int registry_scope_allows(const char *scope_json, const char *item, const char *facility)
{
	struct reg_scope *s = registry_scope_parse(scope_json);
	int ok = registry_scope_has(s, item, facility);

	registry_scope_free(s);
	return ok;
}

int registry_grant_set(struct registry *r, const char *actor, const char *app,
		       const char *utility, const char *scope_json, uint64_t now_ms, char *err,
		       size_t errlen)
{
	char vendor[REG_ID_MAX] = "", *scope = NULL;
	json_t *j = NULL;
	sqlite3_stmt *st;
	int ret = check_actor(actor, err, errlen), rc, kind, revoked = 0;

	if (ret == SUIDO_OK)
		ret = check_id("application", app, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("utility", utility, err, errlen);
	if (ret == SUIDO_OK && !(j = scope_load(scope_json, err, errlen)))
		ret = SUIDO_ERR_INVALID;
	if (ret == SUIDO_OK && !(scope = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)))
		ret = SUIDO_ERR_NOMEM;
	json_decref(j);
	if (ret == SUIDO_OK && strlen(scope) >= REG_SCOPE_MAX) {
		suido_errf(err, errlen, "scope: over %d bytes", REG_SCOPE_MAX - 1);
		ret = SUIDO_ERR_INVALID;
	}
	if (ret != SUIDO_OK)
		goto cleanup;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st, "SELECT vendor, revoked FROM apps WHERE id = ?1", "t", app);
		if (rc == SQLITE_ROW) {
			copy_col(vendor, sizeof vendor, st, 0);
			revoked = sqlite3_column_int(st, 1);
			q_end(st);
		} else if (rc == SQLITE_DONE) {
			suido_errf(err, errlen, "no application %s", app);
			ret = SUIDO_ERR_NOTFOUND;
		} else {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK && revoked) {
		suido_errf(err, errlen, "application %s is revoked", app);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, utility, &kind, err, errlen);
	if (ret == SUIDO_OK && kind != REG_UTILITY) {
		suido_errf(err, errlen, "%s is not a utility", utility);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK) {
		rc = q_step(r, NULL, "SELECT 1 FROM links WHERE utility = ?1 AND vendor = ?2", "tt",
			    utility, vendor);
		if (rc == SQLITE_DONE) {
			suido_errf(err, errlen, "vendor %s of %s is not linked to %s", vendor, app,
				   utility);
			ret = SUIDO_ERR_PERM;
		} else if (rc != SQLITE_ROW) {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "INSERT INTO grants(app, utility, scope, granted_ms) VALUES(?1, ?2, ?3, ?4)"
			   " ON CONFLICT(app, utility) DO UPDATE SET scope = excluded.scope,"
			   " granted_ms = excluded.granted_ms",
			   "ttti", app, utility, scope, (int64_t)now_ms);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "grant.set", app,
				json_pack("{s:s, s:s}", "utility", utility, "scope", scope), now_ms,
				err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
cleanup:
	free(scope);
	return ret;
}

int registry_grant_revoke(struct registry *r, const char *actor, const char *app,
			  const char *utility, uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("application", app, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("utility", utility, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "DELETE FROM grants WHERE app = ?1 AND utility = ?2", "tt",
			   app, utility);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "%s holds no grant of %s", app, utility);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "grant.revoke", app, json_pack("{s:s}", "utility", utility),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

static void grant_row(sqlite3_stmt *st, void *out)
{
	struct reg_grant *g = out;

	memset(g, 0, sizeof *g);
	copy_col(g->app, sizeof g->app, st, 0);
	copy_col(g->utility, sizeof g->utility, st, 1);
	copy_col(g->scope, sizeof g->scope, st, 2);
	g->granted_ms = sqlite3_column_int64(st, 3);
}

#define GRANT_COLS                                                                             \
	"SELECT g.app, g.utility, g.scope, g.granted_ms FROM grants g"                        \
	" JOIN apps a ON a.id = g.app"

int registry_grant_get(struct registry *r, const char *app, const char *utility,
		       struct reg_grant *out)
{
	if (!id_ok(app) || !id_ok(utility))
		return SUIDO_ERR_INVALID;
	return get_row(r, grant_row, out,
		       GRANT_COLS " WHERE g.app = ?1 AND g.utility = ?2 AND a.revoked = 0", "tt",
		       app, utility);
}

/* Lists live grants only (those of revoked applications are not). */
LIST_EMIT(grant_emit, struct reg_grant)

int registry_grant_list(struct registry *r, const char *app, const char *utility,
			int (*cb)(void *ctx, const struct reg_grant *g), void *ctx)
{
	struct grant_emit e = {{grant_emit_each}, cb, ctx};

	if ((app && !id_ok(app)) || (utility && !id_ok(utility)))
		return SUIDO_ERR_INVALID;
	return list_rows(r, grant_row, sizeof(struct reg_grant), &e.e,
			 GRANT_COLS " WHERE (?1 IS NULL OR g.app = ?1) AND (?2 IS NULL OR"
				    " g.utility = ?2) AND a.revoked = 0 ORDER BY g.utility, g.app",
			 "tt", app, utility);
}

/* ---- users -------------------------------------------------------------------- */

static int check_user(const struct reg_user *u, char *err, size_t errlen)
{
	size_t n;

	if (!text_ok(u->name_kanji, REG_NAME_MAX, 1) || !text_ok(u->name_kana, REG_NAME_MAX, 1) ||
	    !text_ok(u->name_romaji, REG_NAME_MAX, 1)) {
		suido_errf(err, errlen, "user names: too long or not clean UTF-8");
		return SUIDO_ERR_INVALID;
	}
	if (!text_ok(u->mail, REG_MAIL_MAX, 1) || (u->mail[0] && !strchr(u->mail, '@'))) {
		suido_errf(err, errlen, "mail: too long, not clean UTF-8 or without '@'");
		return SUIDO_ERR_INVALID;
	}
	n = strnlen(u->phone, REG_PHONE_MAX);
	if (n >= REG_PHONE_MAX || strspn(u->phone, "0123456789+-() ") != n) {
		suido_errf(err, errlen, "phone: too long or not of 0-9 + - ( ) and spaces");
		return SUIDO_ERR_INVALID;
	}
	if ((unsigned)u->role > REG_ROLE_ADMIN) {
		suido_errf(err, errlen, "unknown role %d", (int)u->role);
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

int registry_user_add(struct registry *r, const char *actor, struct reg_user *u,
		      char otp[REG_OTP_TEXT], uint64_t now_ms, char *err, size_t errlen)
{
	char pw[REG_OTP_TEXT], hash[PASSWORD_HASH_MAX], login[REG_ID_MAX + 24];
	sqlite3_stmt *st;
	int64_t num = 0;
	int ret = check_actor(actor, err, errlen), rc, kind;

	if (ret == SUIDO_OK)
		ret = check_id("tenant", u->tenant, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_user(u, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	ret = otp_make(pw, hash);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "cannot make a one-time password");
		return ret;
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, u->tenant, &kind, err, errlen);
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st, "SELECT coalesce(max(num), 0) + 1 FROM users WHERE tenant = ?1",
			    "t", u->tenant);
		if (rc == SQLITE_ROW) {
			num = sqlite3_column_int64(st, 0);
			q_end(st);
		} else {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK) {
		snprintf(login, sizeof login, "%s-%04" PRId64, u->tenant, num);
		if (!id_ok(login)) {
			suido_errf(err, errlen, "tenant id %s too long for a login ID", u->tenant);
			ret = SUIDO_ERR_INVALID;
		}
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "INSERT INTO users(login, tenant, num, name_kanji, name_kana, name_romaji,"
			   " mail, phone, role, otp_required, disabled, must_change, password,"
			   " password_set_ms, created_ms)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?13)",
			   "ttitttttiiiti", login, u->tenant, num,
			   u->name_kanji, u->name_kana, u->name_romaji, u->mail, u->phone,
			   (int64_t)u->role, (int64_t)(u->otp_required != 0),
			   (int64_t)(u->disabled != 0), hash, (int64_t)now_ms);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "user.add", login,
				json_pack("{s:s, s:i, s:b, s:b}", "tenant", u->tenant, "role",
					  (int)u->role, "otp_required", u->otp_required != 0,
					  "disabled", u->disabled != 0),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK) {
		memcpy(u->login, login, REG_ID_MAX);
		u->otp_required = u->otp_required != 0;
		u->disabled = u->disabled != 0;
		u->totp_enrolled = 0;
		u->must_change = 1;
		u->created_ms = (int64_t)now_ms;
		u->password_set_ms = (int64_t)now_ms;
		memcpy(otp, pw, REG_OTP_TEXT);
	}
	OPENSSL_cleanse(pw, sizeof pw);
	return ret;
}

int registry_user_update(struct registry *r, const char *actor, const struct reg_user *u,
			 uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen), n = 0;

	if (ret == SUIDO_OK)
		ret = check_id("login", u->login, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_user(u, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "UPDATE users SET name_kanji = ?2, name_kana = ?3, name_romaji = ?4,"
			   " mail = ?5, phone = ?6, role = ?7, otp_required = ?8, disabled = ?9"
			   " WHERE login = ?1",
			   "ttttttiii", u->login, u->name_kanji, u->name_kana, u->name_romaji,
			   u->mail, u->phone, (int64_t)u->role, (int64_t)(u->otp_required != 0),
			   (int64_t)(u->disabled != 0));
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no user %s", u->login);
		ret = SUIDO_ERR_NOTFOUND;
	}
	/* A disabled user's sessions at the applications end with it. */
	if (ret == SUIDO_OK && u->disabled) {
		ret = EXEC(r, err, errlen,
			   "UPDATE refresh_families SET revoked = 1 WHERE login = ?1 AND revoked = 0",
			   "t", u->login);
		n = sqlite3_changes(r->db);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "user.update", u->login,
				json_pack("{s:i, s:b, s:b, s:i}", "role", (int)u->role,
					  "otp_required", u->otp_required != 0, "disabled",
					  u->disabled != 0, "refresh_families_revoked", n),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

#define USER_COLS                                                                                \
	"SELECT login, tenant, name_kanji, name_kana, name_romaji, mail, phone, role,"          \
	" otp_required, totp_secret IS NOT NULL, must_change, disabled, created_ms,"             \
	" password_set_ms FROM users"

static void user_row(sqlite3_stmt *st, void *out)
{
	struct reg_user *u = out;

	memset(u, 0, sizeof *u);
	copy_col(u->login, sizeof u->login, st, 0);
	copy_col(u->tenant, sizeof u->tenant, st, 1);
	copy_col(u->name_kanji, sizeof u->name_kanji, st, 2);
	copy_col(u->name_kana, sizeof u->name_kana, st, 3);
	copy_col(u->name_romaji, sizeof u->name_romaji, st, 4);
	copy_col(u->mail, sizeof u->mail, st, 5);
	copy_col(u->phone, sizeof u->phone, st, 6);
	u->role = (enum reg_role)sqlite3_column_int(st, 7);
	u->otp_required = sqlite3_column_int(st, 8);
	u->totp_enrolled = sqlite3_column_int(st, 9);
	u->must_change = sqlite3_column_int(st, 10);
	u->disabled = sqlite3_column_int(st, 11);
	u->created_ms = sqlite3_column_int64(st, 12);
	u->password_set_ms = sqlite3_column_int64(st, 13);
}

int registry_user_get(struct registry *r, const char *login, struct reg_user *out)
{
	if (!id_ok(login))
		return SUIDO_ERR_INVALID;
	return get_row(r, user_row, out, USER_COLS " WHERE login = ?1", "t", login);
}

LIST_EMIT(user_emit, struct reg_user)

int registry_user_list(struct registry *r, const char *tenant,
		       int (*cb)(void *ctx, const struct reg_user *u), void *ctx)
{
	struct user_emit e = {{user_emit_each}, cb, ctx};

	if (tenant && !id_ok(tenant))
		return SUIDO_ERR_INVALID;
	return list_rows(r, user_row, sizeof(struct reg_user), &e.e,
			 USER_COLS " WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, num", "t",
			 tenant);
}

/* Replaces the password hash old of login by new in the current
 * transaction, if old is still the current one (else DB: a concurrent
 * change; the caller may retry). A password the user chose (must_change 0)
 * goes into the history; a one-time password does not. */
static int password_swap(struct registry *r, const char *login, const char *old, int old_otp,
			 const char *new, int must_change, uint64_t now_ms, char *err,
			 size_t errlen)
{
	int ret = EXEC(r, err, errlen,
		       "UPDATE users SET password = ?3, must_change = ?4, password_set_ms = ?5"
		       " WHERE login = ?1 AND password = ?2",
		       "tttii", login, old, new, (int64_t)must_change, (int64_t)now_ms);

	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "the password of %s changed meanwhile", login);
		ret = SUIDO_ERR_DB;
	}
	if (ret == SUIDO_OK && !old_otp)
		ret = EXEC(r, err, errlen, "INSERT INTO password_history(login, hash) VALUES(?1, ?2)",
			   "tt", login, old);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "DELETE FROM password_history WHERE login = ?1 AND id NOT IN"
			   " (SELECT id FROM password_history WHERE login = ?1"
			   " ORDER BY id DESC LIMIT ?2)",
			   "ti", login, (int64_t)HISTORY_KEEP);
	return ret;
}

/* What set_password reads before the (unlocked) policy check. */
struct pw_subject {
	char names[4][REG_NAME_MAX];
	char current[PASSWORD_HASH_MAX];
	int must_change;
	char history[HISTORY_KEEP + 1][PASSWORD_HASH_MAX]; /* current first */
	size_t nhistory;
};

static int pw_subject_read(struct registry *r, const char *login, size_t want,
			   struct pw_subject *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char *at;
	int rc;

	rc = q_step(r, &st,
		    "SELECT name_kanji, name_kana, name_romaji, mail, password, must_change"
		    " FROM users WHERE login = ?1",
		    "t", login);
	if (rc == SQLITE_DONE) {
		suido_errf(err, errlen, "no user %s", login);
		return SUIDO_ERR_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return dberr(r, rc, err, errlen);
	for (int i = 0; i < 4; i++)
		copy_col(s->names[i], sizeof s->names[i], st, i);
	at = strchr(s->names[3], '@'); /* the mail's local part */
	if (at)
		*at = '\0';
	copy_col(s->current, sizeof s->current, st, 4);
	s->must_change = sqlite3_column_int(st, 5);
	q_end(st);
	s->nhistory = 0;
	if (want == 0)
		return SUIDO_OK;
	memcpy(s->history[s->nhistory++], s->current, PASSWORD_HASH_MAX);
	rc = q_step(r, &st,
		    "SELECT hash FROM password_history WHERE login = ?1 ORDER BY id DESC LIMIT ?2",
		    "ti", login, (int64_t)(want - 1));
	while (rc == SQLITE_ROW && s->nhistory < want) {
		copy_col(s->history[s->nhistory], PASSWORD_HASH_MAX, st, 0);
		s->nhistory++;
		rc = sqlite3_step(st);
	}
	q_end(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(r, rc, err, errlen);
	return SUIDO_OK;
}

int registry_user_set_password(struct registry *r, const char *actor, const char *login,
			       const char *password, size_t len,
			       const struct password_policy *policy,
			       const struct password_blocklist *blocklist, int *reason,
			       uint64_t now_ms, char *err, size_t errlen)
{
	struct pw_subject *s = NULL;
	struct password_subject ps;
	const char *names[4], *hist[HISTORY_KEEP + 1];
	char hash[PASSWORD_HASH_MAX] = "";
	enum password_reason why = PASSWORD_ACCEPTABLE;
	size_t want;
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("login", login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	s = calloc(1, sizeof *s);
	if (!s) {
		suido_errf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	want = policy->history < HISTORY_KEEP + 1 ? policy->history : HISTORY_KEEP + 1;
	lock(r);
	ret = begin(r, 0, err, errlen);
	if (ret == SUIDO_OK)
		ret = pw_subject_read(r, login, want, s, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret != SUIDO_OK)
		goto cleanup;

	/* The policy's Argon2id verifications of the history run unlocked. */
	for (int i = 0; i < 4; i++)
		names[i] = s->names[i];
	for (size_t i = 0; i < s->nhistory; i++)
		hist[i] = s->history[i];
	ps.login = login;
	ps.names = names;
	ps.nnames = 4;
	ps.history = hist;
	ps.nhistory = s->nhistory;
	ret = password_check(policy, blocklist, &ps, password, len, &why);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "password policy or stored history unusable (%s)",
			   suido_strerror(ret));
		goto cleanup;
	}
	if (reason)
		*reason = (int)why;
	if (why != PASSWORD_ACCEPTABLE) {
		suido_errf(err, errlen, "%s", password_reason_en((int)why));
		ret = SUIDO_ERR_PERM;
		goto cleanup;
	}
	ret = password_hash(password, len, hash);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "cannot hash the password (%s)", suido_strerror(ret));
		goto cleanup;
	}

	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = password_swap(r, login, s->current, s->must_change, hash, 0, now_ms, err,
				    errlen);
	/* a new password ends every refresh token family of the user, whoever
	 * changed it and wherever (ASVS 3.3.3) */
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "UPDATE refresh_families SET revoked = 1 WHERE login = ?1 AND revoked = 0",
			   "t", login);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "user.password", login,
				json_pack("{s:i}", "refresh_families_revoked", sqlite3_changes(r->db)),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
cleanup:
	if (s)
		OPENSSL_cleanse(s, sizeof *s);
	free(s);
	return ret;
}

int registry_user_reset_password(struct registry *r, const char *actor, const char *login,
				 char otp[REG_OTP_TEXT], uint64_t now_ms, char *err,
				 size_t errlen)
{
	char pw[REG_OTP_TEXT], hash[PASSWORD_HASH_MAX], old[PASSWORD_HASH_MAX];
	sqlite3_stmt *st;
	int ret = check_actor(actor, err, errlen), rc, old_otp = 0, n = 0;

	if (ret == SUIDO_OK)
		ret = check_id("login", login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	ret = otp_make(pw, hash);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "cannot make a one-time password");
		return ret;
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st, "SELECT password, must_change FROM users WHERE login = ?1", "t",
			    login);
		if (rc == SQLITE_ROW) {
			copy_col(old, sizeof old, st, 0);
			old_otp = sqlite3_column_int(st, 1);
			q_end(st);
		} else if (rc == SQLITE_DONE) {
			suido_errf(err, errlen, "no user %s", login);
			ret = SUIDO_ERR_NOTFOUND;
		} else {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK)
		ret = password_swap(r, login, old, old_otp, hash, 1, now_ms, err, errlen);
	if (ret == SUIDO_OK) {
		ret = EXEC(r, err, errlen,
			   "UPDATE refresh_families SET revoked = 1 WHERE login = ?1 AND revoked = 0",
			   "t", login);
		n = sqlite3_changes(r->db);
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "user.reset", login,
				json_pack("{s:i}", "refresh_families_revoked", n), now_ms, err,
				errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK)
		memcpy(otp, pw, REG_OTP_TEXT);
	OPENSSL_cleanse(pw, sizeof pw);
	return ret;
}

int registry_user_check_password(struct registry *r, const char *login, const char *password,
				 size_t len, int *must_change)
{
	char hash[PASSWORD_HASH_MAX] = "", fresh[PASSWORD_HASH_MAX];
	sqlite3_stmt *st;
	int found = 0, disabled = 0, mc = 0, rc;

	if (id_ok(login)) {
		lock(r);
		rc = q_step(r, &st,
			    "SELECT password, disabled, must_change FROM users WHERE login = ?1", "t",
			    login);
		if (rc == SQLITE_ROW) {
			copy_col(hash, sizeof hash, st, 0);
			disabled = sqlite3_column_int(st, 1);
			mc = sqlite3_column_int(st, 2);
			found = 1;
			q_end(st);
		} else if (rc != SQLITE_DONE) {
			dberr(r, rc, NULL, 0);
		}
		unlock(r);
	}
	/* The same Argon2id cost whether or not the login exists. */
	if (!found) {
		password_verify_dummy(password, len);
		return SUIDO_ERR_PERM;
	}
	if (password_verify(hash, password, len) != SUIDO_OK || disabled)
		return SUIDO_ERR_PERM;
	if (must_change)
		*must_change = mc;
	/* Stored with older parameters: replace it while the clear password is
	 * at hand (a failure only postpones it to the next sign-in). The call
	 * has no now_ms, so this audit row takes the wall clock. */
	if (password_needs_rehash(hash) && password_hash(password, len, fresh) == SUIDO_OK) {
		int ret;

		lock(r);
		ret = begin(r, 1, NULL, 0);
		if (ret == SUIDO_OK)
			ret = EXEC(r, NULL, 0,
				   "UPDATE users SET password = ?3 WHERE login = ?1 AND password = ?2",
				   "ttt", login, hash, fresh);
		if (ret == SUIDO_OK && sqlite3_changes(r->db) == 1)
			ret = audit_add(r, "system", "user.rehash", login, json_object(),
					(uint64_t)timeutil_now_ms(), NULL, 0);
		finish(r, ret, NULL, 0);
		unlock(r);
	}
	return SUIDO_OK;
}

/* ---- TOTP --------------------------------------------------------------------- */

int registry_totp_begin(struct registry *r, const char *actor, const char *login,
			char *base32, size_t base32len, char **uri, uint64_t now_ms, char *err,
			size_t errlen)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	char b32[TOTP_BASE32_MAX] = "", *u = NULL;
	int ret = check_actor(actor, err, errlen);

	*uri = NULL;
	if (ret == SUIDO_OK)
		ret = check_id("login", login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	ret = totp_secret_generate(secret);
	if (ret == SUIDO_OK)
		ret = totp_secret_to_base32(secret, sizeof secret, b32, sizeof b32);
	if (ret == SUIDO_OK && strlen(b32) >= base32len)
		ret = SUIDO_ERR_LIMIT;
	if (ret == SUIDO_OK)
		ret = totp_uri(login, secret, sizeof secret, &u);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "cannot make a TOTP secret (%s)", suido_strerror(ret));
		goto cleanup;
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "UPDATE users SET totp_pending = ?2 WHERE login = ?1",
			   "tt", login, b32);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no user %s", login);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "totp.begin", login, json_object(), now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK) {
		memcpy(base32, b32, strlen(b32) + 1);
		*uri = u;
		u = NULL;
	}
cleanup:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(b32, sizeof b32);
	if (u) {
		OPENSSL_cleanse(u, strlen(u));
		free(u);
	}
	return ret;
}

int registry_totp_confirm(struct registry *r, const char *actor, const char *login,
			  const char *code, char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT],
			  uint64_t now_ms, char *err, size_t errlen)
{
	unsigned char secret[TOTP_SECRET_MAX];
	char pending[TOTP_BASE32_MAX] = "", lcodes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_TEXT];
	char hashes[TOTP_RECOVERY_COUNT][PASSWORD_HASH_MAX];
	size_t slen = 0;
	int64_t step = -1;
	sqlite3_stmt *st;
	int ret = check_actor(actor, err, errlen), rc;

	if (ret == SUIDO_OK)
		ret = check_id("login", login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	rc = q_step(r, &st, "SELECT totp_pending FROM users WHERE login = ?1", "t", login);
	if (rc == SQLITE_ROW) {
		copy_col(pending, sizeof pending, st, 0);
		q_end(st);
	} else if (rc == SQLITE_DONE) {
		suido_errf(err, errlen, "no user %s", login);
		ret = SUIDO_ERR_NOTFOUND;
	} else {
		ret = dberr(r, rc, err, errlen);
	}
	unlock(r);
	if (ret != SUIDO_OK)
		goto cleanup;
	if (!pending[0] ||
	    totp_secret_from_base32(pending, strlen(pending), secret, &slen) != SUIDO_OK ||
	    !code || totp_verify(secret, slen, code, (int64_t)(now_ms / 1000), -1, &step) != SUIDO_OK) {
		suido_errf(err, errlen, "no enrolment pending, or a wrong code");
		ret = SUIDO_ERR_PERM;
		goto cleanup;
	}
	/* Ten Argon2id hashes: unlocked, then the enrolment is swapped in only
	 * if it is still the one the code was checked against. */
	ret = totp_recovery_generate(lcodes, hashes);
	if (ret != SUIDO_OK) {
		suido_errf(err, errlen, "cannot make recovery codes (%s)", suido_strerror(ret));
		goto cleanup;
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL,"
			   " totp_last_step = ?3 WHERE login = ?1 AND totp_pending = ?2",
			   "tti", login, pending, step);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "the enrolment of %s changed meanwhile", login);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "DELETE FROM recovery_codes WHERE login = ?1", "t", login);
	for (int i = 0; ret == SUIDO_OK && i < TOTP_RECOVERY_COUNT; i++)
		ret = EXEC(r, err, errlen, "INSERT INTO recovery_codes(login, hash) VALUES(?1, ?2)",
			   "tt", login, hashes[i]);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "totp.confirm", login,
				json_pack("{s:i}", "recovery_codes", TOTP_RECOVERY_COUNT), now_ms,
				err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK)
		memcpy(codes, lcodes, sizeof lcodes);
cleanup:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(pending, sizeof pending);
	OPENSSL_cleanse(lcodes, sizeof lcodes);
	return ret;
}

int registry_totp_set(struct registry *r, const char *actor, const char *login,
		      const char *base32, uint64_t now_ms, char *err, size_t errlen)
{
	unsigned char secret[TOTP_SECRET_MAX];
	char b32[TOTP_BASE32_MAX * 2] = "";
	size_t slen = 0;
	int ret = check_actor(actor, err, errlen);

	if (ret == SUIDO_OK)
		ret = check_id("login", login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	/* Stored in the canonical form the encoder writes. */
	if (!base32 || totp_secret_from_base32(base32, strlen(base32), secret, &slen) != SUIDO_OK ||
	    totp_secret_to_base32(secret, slen, b32, sizeof b32) != SUIDO_OK) {
		suido_errf(err, errlen, "TOTP secret: not base32 of 1-%d bytes", TOTP_SECRET_MAX);
		ret = SUIDO_ERR_INVALID;
		goto cleanup;
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "UPDATE users SET totp_secret = ?2, totp_pending = NULL,"
			   " totp_last_step = -1 WHERE login = ?1",
			   "tt", login, b32);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no user %s", login);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "DELETE FROM recovery_codes WHERE login = ?1", "t", login);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "totp.set", login, json_object(), now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
cleanup:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(b32, sizeof b32);
	return ret;
}

/* A TOTP code: checked and its step recorded under the lock (cheap). */
static int totp_code_check(struct registry *r, const char *login, const char *b32,
			   int64_t last, const char *code, uint64_t now_ms)
{
	unsigned char secret[TOTP_SECRET_MAX];
	size_t slen = 0;
	int64_t step = -1;
	int ret = SUIDO_ERR_PERM;

	if (totp_secret_from_base32(b32, strlen(b32), secret, &slen) == SUIDO_OK &&
	    totp_verify(secret, slen, code, (int64_t)(now_ms / 1000), last, &step) == SUIDO_OK) {
		ret = begin(r, 1, NULL, 0);
		/* The condition keeps the step growing even if another instance
		 * on the same database accepted a later code meanwhile. */
		if (ret == SUIDO_OK)
			ret = EXEC(r, NULL, 0,
				   "UPDATE users SET totp_last_step = ?2"
				   " WHERE login = ?1 AND totp_last_step < ?2",
				   "ti", login, step);
		if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0)
			ret = SUIDO_ERR_PERM;
		ret = finish(r, ret, NULL, 0);
		if (ret != SUIDO_OK)
			ret = SUIDO_ERR_PERM;
	}
	OPENSSL_cleanse(secret, sizeof secret);
	return ret;
}

int registry_totp_check(struct registry *r, const char *login, const char *code,
			uint64_t now_ms)
{
	char b32[TOTP_BASE32_MAX * 2] = "", actor[REG_ACTOR_MAX];
	char (*hashes)[PASSWORD_HASH_MAX] = NULL;
	const char *hp[RECOVERY_MAX];
	int64_t ids[RECOVERY_MAX], last = -1;
	size_t nh = 0, idx = 0;
	sqlite3_stmt *st;
	int ret = SUIDO_ERR_PERM, rc, live = 0, is_totp;

	if (!id_ok(login) || !code || strnlen(code, 64) >= 64)
		return SUIDO_ERR_PERM;
	is_totp = strlen(code) == TOTP_DIGITS && strspn(code, "0123456789") == TOTP_DIGITS;
	hashes = calloc(RECOVERY_MAX, sizeof *hashes);
	if (!hashes)
		return SUIDO_ERR_NOMEM;
	lock(r);
	rc = q_step(r, &st,
		    "SELECT totp_secret, totp_last_step FROM users"
		    " WHERE login = ?1 AND disabled = 0 AND totp_secret IS NOT NULL",
		    "t", login);
	if (rc == SQLITE_ROW) {
		copy_col(b32, sizeof b32, st, 0);
		last = sqlite3_column_int64(st, 1);
		live = 1;
		q_end(st);
	}
	if (live && is_totp) {
		ret = totp_code_check(r, login, b32, last, code, now_ms);
	} else if (live) {
		rc = q_step(r, &st,
			    "SELECT id, hash FROM recovery_codes WHERE login = ?1 ORDER BY id LIMIT ?2",
			    "ti", login, (int64_t)RECOVERY_MAX);
		while (rc == SQLITE_ROW && nh < RECOVERY_MAX) {
			ids[nh] = sqlite3_column_int64(st, 0);
			copy_col(hashes[nh], PASSWORD_HASH_MAX, st, 1);
			hp[nh] = hashes[nh];
			nh++;
			rc = sqlite3_step(st);
		}
		q_end(st);
	}
	unlock(r);
	/* Recovery codes: Argon2id verifications unlocked, then the matching
	 * row deleted; only the caller whose delete took it succeeds. */
	if (nh > 0 && totp_recovery_verify(hp, nh, code, strlen(code), &idx) == SUIDO_OK) {
		snprintf(actor, sizeof actor, "user:%s", login);
		lock(r);
		ret = begin(r, 1, NULL, 0);
		if (ret == SUIDO_OK)
			ret = EXEC(r, NULL, 0, "DELETE FROM recovery_codes WHERE id = ?1 AND login = ?2",
				   "it", ids[idx], login);
		if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0)
			ret = SUIDO_ERR_PERM;
		if (ret == SUIDO_OK)
			ret = audit_add(r, actor, "totp.recovery", login,
					json_pack("{s:i}", "remaining", (int)nh - 1), now_ms, NULL, 0);
		ret = finish(r, ret, NULL, 0);
		unlock(r);
		if (ret != SUIDO_OK)
			ret = SUIDO_ERR_PERM;
	}
	OPENSSL_cleanse(b32, sizeof b32);
	free(hashes);
	return ret;
}

/* ---- OpenID Connect state ----------------------------------------------------- */

/* 1 when a fixed-size member holds its NUL. */
static int fixed_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int registry_code_put(struct registry *r, const char *code, const struct reg_code *c,
		      char *err, size_t errlen)
{
	unsigned char d[SHA_LEN];
	int ret;

	if (secret_digest(code, d) != SUIDO_OK) {
		suido_errf(err, errlen, "code: empty or over %d bytes", TOKEN_MAX - 1);
		return SUIDO_ERR_INVALID;
	}
	ret = check_id("client", c->client, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("login", c->login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	if (!fixed_ok(c->redirect_uri, sizeof c->redirect_uri) ||
	    !fixed_ok(c->challenge, sizeof c->challenge) || !fixed_ok(c->nonce, sizeof c->nonce) ||
	    !fixed_ok(c->scope, sizeof c->scope)) {
		suido_errf(err, errlen, "code: a member is not NUL-terminated");
		return SUIDO_ERR_INVALID;
	}
	lock(r);
	ret = EXEC(r, err, errlen,
		   "INSERT INTO codes(sha256, client, login, redirect_uri, challenge, nonce, scope,"
		   " auth_time_ms, expires_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		   "httttttii", d, c->client, c->login, c->redirect_uri, c->challenge, c->nonce,
		   c->scope, (int64_t)c->auth_time_ms, (int64_t)c->expires_ms);
	unlock(r);
	return ret;
}

int registry_code_take(struct registry *r, const char *code, uint64_t now_ms,
		       struct reg_code *out)
{
	unsigned char d[SHA_LEN];
	struct reg_code c;
	sqlite3_stmt *st;
	int rc, ret, result = SUIDO_ERR_PERM;

	if (secret_digest(code, d) != SUIDO_OK)
		return SUIDO_ERR_PERM;
	memset(&c, 0, sizeof c);
	lock(r);
	ret = begin(r, 1, NULL, 0);
	if (ret == SUIDO_OK)
		ret = EXEC(r, NULL, 0, "DELETE FROM codes WHERE expires_ms < ?1", "i",
			   (int64_t)now_ms - KEEP_AFTER_EXPIRY_MS);
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st,
			    "SELECT client, login, redirect_uri, challenge, nonce, scope,"
			    " auth_time_ms, expires_ms, used FROM codes WHERE sha256 = ?1",
			    "h", d);
		if (rc == SQLITE_ROW) {
			int used = sqlite3_column_int(st, 8);

			copy_col(c.client, sizeof c.client, st, 0);
			copy_col(c.login, sizeof c.login, st, 1);
			copy_col(c.redirect_uri, sizeof c.redirect_uri, st, 2);
			copy_col(c.challenge, sizeof c.challenge, st, 3);
			copy_col(c.nonce, sizeof c.nonce, st, 4);
			copy_col(c.scope, sizeof c.scope, st, 5);
			c.auth_time_ms = sqlite3_column_int64(st, 6);
			c.expires_ms = sqlite3_column_int64(st, 7);
			q_end(st);
			if (used) {
				/* RFC 6749 4.1.2: a code used twice revokes what it gave. */
				ret = EXEC(r, NULL, 0,
					   "UPDATE refresh_families SET revoked = 1"
					   " WHERE code_sha256 = ?1 AND revoked = 0",
					   "h", d);
				if (ret == SUIDO_OK)
					ret = audit_add(r, "oidc", "code.reuse", c.client,
							json_pack("{s:s, s:i}", "login", c.login,
								  "refresh_families_revoked",
								  sqlite3_changes(r->db)),
							now_ms, NULL, 0);
			} else if (c.expires_ms > (int64_t)now_ms) {
				ret = EXEC(r, NULL, 0, "UPDATE codes SET used = 1 WHERE sha256 = ?1",
					   "h", d);
				if (ret == SUIDO_OK)
					result = SUIDO_OK;
			}
		} else if (rc != SQLITE_DONE) {
			ret = dberr(r, rc, NULL, 0);
		}
	}
	ret = finish(r, ret, NULL, 0);
	unlock(r);
	if (ret != SUIDO_OK)
		return ret;
	if (result == SUIDO_OK)
		*out = c;
	return result;
}

int registry_refresh_put(struct registry *r, const char *token, struct reg_refresh *rt,
			 const char *code, uint64_t now_ms, char *err, size_t errlen)
{
	unsigned char d[SHA_LEN], cd[SHA_LEN];
	char fam[REG_SECRET_TEXT];
	sqlite3_stmt *st;
	int ret, rc, fresh;

	if (secret_digest(token, d) != SUIDO_OK || (code && secret_digest(code, cd) != SUIDO_OK)) {
		suido_errf(err, errlen, "token or code: empty or over %d bytes", TOKEN_MAX - 1);
		return SUIDO_ERR_INVALID;
	}
	ret = check_id("client", rt->client, err, errlen);
	if (ret == SUIDO_OK)
		ret = check_id("login", rt->login, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	if (!fixed_ok(rt->scope, sizeof rt->scope) || !fixed_ok(rt->family, sizeof rt->family)) {
		suido_errf(err, errlen, "refresh token: a member is not NUL-terminated");
		return SUIDO_ERR_INVALID;
	}
	fresh = rt->family[0] == '\0';
	if (fresh) {
		ret = random_text(fam);
		if (ret != SUIDO_OK)
			return ret;
	} else {
		memcpy(fam, rt->family, sizeof fam);
	}
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK && fresh) {
		ret = EXEC(r, err, errlen,
			   "INSERT INTO refresh_families(id, client, login, code_sha256, created_ms)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
			   "ttthi", fam, rt->client, rt->login, code ? cd : NULL, (int64_t)now_ms);
	} else if (ret == SUIDO_OK) {
		rc = q_step(r, &st,
			    "SELECT client = ?2 AND login = ?3, revoked FROM refresh_families"
			    " WHERE id = ?1",
			    "ttt", fam, rt->client, rt->login);
		if (rc == SQLITE_ROW) {
			if (!sqlite3_column_int(st, 0)) {
				suido_errf(err, errlen, "family of another client or user");
				ret = SUIDO_ERR_INVALID;
			} else if (sqlite3_column_int(st, 1)) {
				suido_errf(err, errlen, "family revoked");
				ret = SUIDO_ERR_PERM;
			}
			q_end(st);
		} else if (rc == SQLITE_DONE) {
			suido_errf(err, errlen, "no such family");
			ret = SUIDO_ERR_NOTFOUND;
		} else {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "DELETE FROM refresh_tokens WHERE expires_ms < ?1", "i",
			   (int64_t)now_ms - KEEP_AFTER_EXPIRY_MS);
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "INSERT INTO refresh_tokens(sha256, family, scope, auth_time_ms, expires_ms)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
			   "httii", d, fam, rt->scope, (int64_t)rt->auth_time_ms,
			   (int64_t)rt->expires_ms);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	if (ret == SUIDO_OK && fresh)
		memcpy(rt->family, fam, sizeof fam);
	return ret;
}

int registry_refresh_use(struct registry *r, const char *token, uint64_t now_ms,
			 struct reg_refresh *out, int *reused)
{
	unsigned char d[SHA_LEN];
	struct reg_refresh t;
	sqlite3_stmt *st;
	int rc, ret, result = SUIDO_ERR_PERM, again = 0;

	*reused = 0;
	if (secret_digest(token, d) != SUIDO_OK)
		return SUIDO_ERR_PERM;
	memset(&t, 0, sizeof t);
	lock(r);
	ret = begin(r, 1, NULL, 0);
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st,
			    "SELECT t.family, t.scope, t.auth_time_ms, t.expires_ms, t.used,"
			    " f.client, f.login, f.revoked OR coalesce(a.revoked, 0)"
			    " FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family"
			    " LEFT JOIN apps a ON a.id = f.client WHERE t.sha256 = ?1",
			    "h", d);
		if (rc == SQLITE_ROW) {
			int used = sqlite3_column_int(st, 4), dead = sqlite3_column_int(st, 7);

			copy_col(t.family, sizeof t.family, st, 0);
			copy_col(t.scope, sizeof t.scope, st, 1);
			t.auth_time_ms = sqlite3_column_int64(st, 2);
			t.expires_ms = sqlite3_column_int64(st, 3);
			copy_col(t.client, sizeof t.client, st, 5);
			copy_col(t.login, sizeof t.login, st, 6);
			q_end(st);
			if (dead) {
				/* revoked: PERM */
			} else if (used) {
				/* A rotated token presented again: one of the two
				 * holders is a thief, so neither keeps the family. */
				ret = EXEC(r, NULL, 0,
					   "UPDATE refresh_families SET revoked = 1 WHERE id = ?1", "t",
					   t.family);
				if (ret == SUIDO_OK)
					ret = audit_add(r, "oidc", "refresh.reuse", t.client,
							json_pack("{s:s, s:s}", "login", t.login,
								  "family", t.family),
							now_ms, NULL, 0);
				again = 1;
			} else if (t.expires_ms > (int64_t)now_ms) {
				ret = EXEC(r, NULL, 0,
					   "UPDATE refresh_tokens SET used = 1 WHERE sha256 = ?1", "h",
					   d);
				if (ret == SUIDO_OK)
					result = SUIDO_OK;
			}
		} else if (rc != SQLITE_DONE) {
			ret = dberr(r, rc, NULL, 0);
		}
	}
	ret = finish(r, ret, NULL, 0);
	unlock(r);
	if (ret != SUIDO_OK)
		return ret;
	*reused = again;
	if (result == SUIDO_OK)
		*out = t;
	return result;
}

int registry_refresh_revoke(struct registry *r, const char *token, const char *client,
			    uint64_t now_ms)
{
	unsigned char d[SHA_LEN];
	int ret;

	(void)now_ms;
	if (secret_digest(token, d) != SUIDO_OK)
		return SUIDO_OK; /* unknown tokens are OK (RFC 7009 2.2) */
	lock(r);
	ret = begin(r, 1, NULL, 0);
	if (ret == SUIDO_OK)
		ret = EXEC(r, NULL, 0,
			   "UPDATE refresh_families SET revoked = 1 WHERE id ="
			   " (SELECT family FROM refresh_tokens WHERE sha256 = ?1)"
			   " AND (?2 IS NULL OR client = ?2)",
			   "ht", d, client);
	ret = finish(r, ret, NULL, 0);
	unlock(r);
	return ret;
}

int registry_refresh_revoke_user(struct registry *r, const char *login, uint64_t now_ms)
{
	int ret;

	if (!id_ok(login))
		return SUIDO_ERR_INVALID;
	lock(r);
	ret = begin(r, 1, NULL, 0);
	if (ret == SUIDO_OK)
		ret = EXEC(r, NULL, 0,
			   "UPDATE refresh_families SET revoked = 1 WHERE login = ?1 AND revoked = 0",
			   "t", login);
	if (ret == SUIDO_OK)
		ret = audit_add(r, "oidc", "refresh.revoke_user", login,
				json_pack("{s:i}", "refresh_families_revoked", sqlite3_changes(r->db)),
				now_ms, NULL, 0);
	ret = finish(r, ret, NULL, 0);
	unlock(r);
	return ret;
}

/* ---- audit -------------------------------------------------------------------- */

int registry_audit(struct registry *r, const char *actor, const char *action,
		   const char *target, const char *detail_json, uint64_t now_ms)
{
	json_error_t je;
	json_t *detail;
	int ret;

	if (check_actor(actor, NULL, 0) != SUIDO_OK || !text_ok(action, ACTION_MAX, 0) ||
	    !text_ok(target ? target : "", TARGET_MAX, 1))
		return SUIDO_ERR_INVALID;
	if (!detail_json)
		detail_json = "{}";
	if (strnlen(detail_json, DETAIL_MAX) >= DETAIL_MAX)
		return SUIDO_ERR_INVALID;
	detail = json_loads(detail_json, JSON_REJECT_DUPLICATES, &je);
	if (!detail || !json_is_object(detail)) {
		json_decref(detail);
		return SUIDO_ERR_INVALID;
	}
	lock(r);
	ret = begin(r, 1, NULL, 0);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, action, target ? target : "", detail, now_ms, NULL, 0);
	else
		json_decref(detail);
	ret = finish(r, ret, NULL, 0);
	unlock(r);
	return ret;
}

/* The row's text stays the statement's: valid until the next step, i.e.
 * for the callback's length. */
static void audit_row(sqlite3_stmt *st, void *out)
{
	struct reg_audit *a = out;

	a->seq = sqlite3_column_int64(st, 0);
	a->at_ms = sqlite3_column_int64(st, 1);
	a->actor = (const char *)sqlite3_column_text(st, 2);
	a->action = (const char *)sqlite3_column_text(st, 3);
	a->target = (const char *)sqlite3_column_text(st, 4);
	a->detail = (const char *)sqlite3_column_text(st, 5);
}

LIST_EMIT(audit_emit, struct reg_audit)

int registry_audit_list(struct registry *r, int64_t after, size_t limit,
			int (*cb)(void *ctx, const struct reg_audit *a), void *ctx)
{
	struct audit_emit e = {{audit_emit_each}, cb, ctx};

	if (limit == 0)
		return SUIDO_OK;
	return list_rows(r, audit_row, sizeof(struct reg_audit), &e.e,
			 "SELECT seq, at_ms, actor, action, target, detail FROM audit"
			 " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			 "ii", after, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
}

/* ---- gateways ------------------------------------------------------------------ */

/* Gateway ids are those of the GW interface: 1..64 of [A-Za-z0-9_.-]. */
static int gateway_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > REG_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int registry_gateway_ensure(struct registry *r, const char *actor, const char *id,
			    const char *utility, uint64_t now_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ret = check_actor(actor, err, errlen), kind, rc;

	if (ret == SUIDO_OK && !gateway_id_ok(id)) {
		suido_errf(err, errlen, "gateway id: 1-64 characters of A-Z a-z 0-9 _ . -");
		ret = SUIDO_ERR_INVALID;
	}
	if (ret == SUIDO_OK)
		ret = check_id("utility", utility, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, utility, &kind, err, errlen);
	if (ret == SUIDO_OK && kind != REG_UTILITY) {
		suido_errf(err, errlen, "%s is not a utility", utility);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK) {
		rc = q_step(r, &st, "SELECT utility FROM gateways WHERE id = ?1", "t", id);
		if (rc == SQLITE_ROW) {
			if (strcmp((const char *)sqlite3_column_text(st, 0), utility) != 0) {
				suido_errf(err, errlen, "gateway %s belongs to %s", id,
					   (const char *)sqlite3_column_text(st, 0));
				ret = SUIDO_ERR_EXISTS;
			} else {
				ret = -1; /* there already: nothing to do */
			}
			q_end(st);
		} else if (rc != SQLITE_DONE) {
			ret = dberr(r, rc, err, errlen);
		}
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen,
			   "INSERT INTO gateways(id, utility, created_ms) VALUES(?1, ?2, ?3)", "tti", id,
			   utility, (int64_t)now_ms);
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "gateway.add", id, json_pack("{s:s}", "utility", utility),
				now_ms, err, errlen);
	if (ret == -1)
		ret = SUIDO_OK;
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

int registry_gateway_set_vendor(struct registry *r, const char *actor, const char *id,
				const char *vendor, uint64_t now_ms, char *err, size_t errlen)
{
	int ret = check_actor(actor, err, errlen), kind;

	if (ret == SUIDO_OK && !gateway_id_ok(id)) {
		suido_errf(err, errlen, "no gateway %s", id ? id : "");
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = check_id("vendor", vendor, err, errlen);
	if (ret != SUIDO_OK)
		return ret;
	lock(r);
	ret = begin(r, 1, err, errlen);
	if (ret == SUIDO_OK)
		ret = tenant_kind(r, vendor, &kind, err, errlen);
	if (ret == SUIDO_OK && kind != REG_VENDOR) {
		suido_errf(err, errlen, "%s is not a vendor", vendor);
		ret = SUIDO_ERR_PERM;
	}
	if (ret == SUIDO_OK)
		ret = EXEC(r, err, errlen, "UPDATE gateways SET vendor = ?2 WHERE id = ?1", "tt", id,
			   vendor);
	if (ret == SUIDO_OK && sqlite3_changes(r->db) == 0) {
		suido_errf(err, errlen, "no gateway %s", id);
		ret = SUIDO_ERR_NOTFOUND;
	}
	if (ret == SUIDO_OK)
		ret = audit_add(r, actor, "gateway.vendor", id, json_pack("{s:s}", "vendor", vendor),
				now_ms, err, errlen);
	ret = finish(r, ret, err, errlen);
	unlock(r);
	return ret;
}

static void gateway_row(sqlite3_stmt *st, void *out)
{
	struct reg_gateway *g = out;

	memset(g, 0, sizeof *g);
	copy_col(g->id, sizeof g->id, st, 0);
	copy_col(g->utility, sizeof g->utility, st, 1);
	copy_col(g->vendor, sizeof g->vendor, st, 2);
	g->created_ms = sqlite3_column_int64(st, 3);
}

#define GATEWAY_COLS "SELECT id, utility, COALESCE(vendor, ''), created_ms FROM gateways"

int registry_gateway_get(struct registry *r, const char *id, struct reg_gateway *out)
{
	if (!gateway_id_ok(id))
		return SUIDO_ERR_NOTFOUND;
	return get_row(r, gateway_row, out, GATEWAY_COLS " WHERE id = ?1", "t", id);
}

LIST_EMIT(gateway_emit, struct reg_gateway)

int registry_gateway_list(struct registry *r, const char *utility,
			  int (*cb)(void *ctx, const struct reg_gateway *g), void *ctx)
{
	struct gateway_emit e = {{gateway_emit_each}, cb, ctx};

	return list_rows(r, gateway_row, sizeof(struct reg_gateway), &e.e,
			 GATEWAY_COLS " WHERE ?1 IS NULL OR utility = ?1 ORDER BY id", "t", utility);
}
