/*
 * Signing and encryption of the XML data profile (xmlseal.h, seed 003
 * section 4): chosen elements get an enveloped XML Signature (exc-c14n,
 * rsa-sha256, sha256) and are then replaced by XML Encryption EncryptedData
 * (aes-cbc, session key rsa-oaep-mgf1p to the recipient). All cryptography
 * and canonicalization is xmlsec1's; this module chooses the elements,
 * builds the templates, parses untrusted input safely (no DTD, no network),
 * restricts what xmlsec may accept (algorithms, transforms, reference URIs,
 * key sources), and adds the checks xmlsec leaves to the application: the
 * verifying key is the caller's alone, Ids are unique, and every element the
 * caller requires to be signed is, by node identity, one a Reference
 * resolves to (the defence against signature wrapping).
 */
#include "suido/xmlseal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <xmlsec/xmlsec.h>
#include <xmlsec/errors.h>
#include <xmlsec/keyinfo.h>
#include <xmlsec/keys.h>
#include <xmlsec/keysmngr.h>
#include <xmlsec/list.h>
#include <xmlsec/strings.h>
#include <xmlsec/templates.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/openssl/x509.h>

#include "suido/error.h"
#include "suido/log.h"

#define ID_ATTR "Id"
#define ID_PREFIX "xs-"

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_inited; /* under g_init_lock */

/* The first xmlsec error of the current operation in this thread: xmlsec
 * reports a cascade from the innermost cause outwards; the first is the one
 * worth logging. */
static _Thread_local char t_xsec_err[200];

static void xsec_error_cb(const char *file, int line, const char *func, const char *obj,
			  const char *subj, int reason, const char *msg)
{
	const char *what = NULL;

	(void)file;
	(void)line;
	(void)obj;
	(void)subj;
	if (t_xsec_err[0])
		return;
	for (xmlSecSize i = 0; i < XMLSEC_ERRORS_MAX_NUMBER && xmlSecErrorsGetMsg(i); i++)
		if (xmlSecErrorsGetCode(i) == reason) {
			what = xmlSecErrorsGetMsg(i);
			break;
		}
	snprintf(t_xsec_err, sizeof t_xsec_err, "%s%s%s%s%s", func ? func : "xmlsec",
		 what ? ": " : "", what ? what : "", msg && *msg ? ": " : "", msg ? msg : "");
}

static const char *xsec_reason(void)
{
	return t_xsec_err[0] ? t_xsec_err : "no detail from xmlsec";
}

static void silent_xml_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* Initialises libxml2, xmlsec and its OpenSSL backend once. A failure means
 * a broken installation (version mismatch) or no memory at start: fatal. */
static void ensure_init(void)
{
	if (pthread_mutex_lock(&g_init_lock) != 0)
		fatal("xmlseal", "mutex lock failed");
	if (!g_inited) {
		xmlInitParser();
		if (xmlSecInit() < 0)
			fatal("xmlseal", "xmlSecInit failed");
		if (xmlSecCheckVersion() != 1)
			fatal("xmlseal", "xmlsec library version mismatch");
		if (xmlSecOpenSSLAppInit(NULL) < 0)
			fatal("xmlseal", "xmlSecOpenSSLAppInit failed");
		if (xmlSecOpenSSLInit() < 0)
			fatal("xmlseal", "xmlSecOpenSSLInit failed");
		xmlSecErrorsDefaultCallbackEnableOutput(0);
		xmlSecErrorsSetCallback(xsec_error_cb);
		g_inited = 1;
	}
	if (pthread_mutex_unlock(&g_init_lock) != 0)
		fatal("xmlseal", "mutex unlock failed");
}

void xmlseal_global_cleanup(void)
{
	if (pthread_mutex_lock(&g_init_lock) != 0)
		fatal("xmlseal", "mutex lock failed");
	if (g_inited) {
		xmlSecOpenSSLShutdown();
		xmlSecOpenSSLAppShutdown();
		xmlSecShutdown();
		xmlCleanupParser();
		g_inited = 0;
	}
	if (pthread_mutex_unlock(&g_init_lock) != 0)
		fatal("xmlseal", "mutex unlock failed");
}

/* Per-operation thread state: libxml2's own error printing is silenced for
 * this thread while we run (its handlers are thread-local), and restored. */
struct op {
	xmlStructuredErrorFunc prev_handler;
	void *prev_ctx;
};

static void op_begin(struct op *op, char *err, size_t errlen)
{
	ensure_init();
	t_xsec_err[0] = '\0';
	/* xmlsec quotes the oldest queued OpenSSL error: make it ours. */
	ERR_clear_error();
	op->prev_handler = xmlStructuredError;
	op->prev_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, silent_xml_error);
	if (err && errlen)
		err[0] = '\0';
}

static void op_end(struct op *op)
{
	xmlSetStructuredErrorFunc(op->prev_ctx, op->prev_handler);
	ERR_clear_error(); /* nothing of ours left queued for the caller's next OpenSSL call */
}

static size_t cap_bytes(const struct xmlseal_limits *lim)
{
	return lim && lim->max_bytes ? lim->max_bytes : XMLSEAL_MAX_BYTES;
}

static size_t cap_elements(const struct xmlseal_limits *lim)
{
	return lim && lim->max_elements ? lim->max_elements : XMLSEAL_MAX_ELEMENTS;
}

/* ---- parsing ---- */

/* SAX hook: a DOCTYPE (with or without internal subset) stops the parser
 * before any declaration in it is read, so no entity is ever defined. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *eid,
			   const xmlChar *sid)
{
	xmlParserCtxtPtr p = ctx;

	(void)name;
	(void)eid;
	(void)sid;
	*(int *)p->_private = 1;
	xmlStopParser(p);
}

static void copy_xml_error(const xmlError *e, char *err, size_t errlen)
{
	char msg[160];
	size_t n;

	snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "parse error");
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	suido_errf(err, errlen, "not well-formed XML (line %d): %s", e ? e->line : 0, msg);
}

static int parse_doc(const char *xml, size_t len, const struct xmlseal_limits *lim,
		     xmlDocPtr *out, char *err, size_t errlen)
{
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	int saw_doctype = 0;
	int rc = SUIDO_ERR_INVALID;

	*out = NULL;
	if (len > cap_bytes(lim) || len > INT_MAX) {
		suido_errf(err, errlen, "document of %zu bytes exceeds the cap of %zu", len,
			   cap_bytes(lim));
		return SUIDO_ERR_LIMIT;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt || !ctxt->sax) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	ctxt->sax->internalSubset = refuse_doctype;
	ctxt->_private = &saw_doctype;
	/* NONET; no NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: libxml2's default
	 * depth and text-size limits stay in force. */
	doc = xmlCtxtReadMemory(ctxt, xml ? xml : "", (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (saw_doctype) {
		suido_errf(err, errlen, "a DOCTYPE is not allowed");
		goto cleanup;
	}
	if (!doc) {
		copy_xml_error(xmlCtxtGetLastError(ctxt), err, errlen);
		goto cleanup;
	}
	if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
		suido_errf(err, errlen, "a DOCTYPE is not allowed");
		goto cleanup;
	}
	/* Everything is UTF-8 from here: xmlsec serializes an element to encrypt
	 * as UTF-8 but parses decrypted bytes in the document's declared
	 * encoding, so a Shift_JIS document would not survive the round trip
	 * (nor interoperate with other implementations, which also encrypt
	 * UTF-8). The output is then UTF-8 too. */
	if (doc->encoding && xmlStrcasecmp(doc->encoding, BAD_CAST "UTF-8") != 0) {
		xmlFree((xmlChar *)doc->encoding);
		doc->encoding = xmlStrdup(BAD_CAST "UTF-8");
		if (!doc->encoding) {
			rc = SUIDO_ERR_NOMEM;
			goto cleanup;
		}
	}
	*out = doc;
	doc = NULL;
	rc = SUIDO_OK;
cleanup:
	xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	return rc;
}

static int dump_doc(xmlDocPtr doc, char **out, size_t *outlen)
{
	xmlChar *mem = NULL;
	int size = 0;
	char *buf;

	xmlDocDumpMemory(doc, &mem, &size);
	if (!mem || size < 0) {
		xmlFree(mem);
		return SUIDO_ERR_NOMEM;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		xmlFree(mem);
		return SUIDO_ERR_NOMEM;
	}
	memcpy(buf, mem, (size_t)size);
	buf[size] = '\0';
	xmlFree(mem);
	*out = buf;
	*outlen = (size_t)size;
	return SUIDO_OK;
}

/* ---- tree helpers ---- */

/* Next element in document order below root (pre-order, iterative: the
 * tree may be as deep as the parser allows). */
static xmlNodePtr next_element(xmlNodePtr n, xmlNodePtr root)
{
	if (n->children) {
		for (xmlNodePtr c = n->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE)
				return c;
	}
	while (n && n != root) {
		for (xmlNodePtr s = n->next; s; s = s->next)
			if (s->type == XML_ELEMENT_NODE)
				return s;
		n = n->parent;
	}
	return NULL;
}

static int is_ns_element(xmlNodePtr n, const xmlChar *name, const xmlChar *ns)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && xmlStrEqual(n->name, name) &&
	       xmlStrEqual(n->ns->href, ns);
}

static int is_id_attr(xmlAttrPtr a)
{
	if (!a->ns)
		return xmlStrEqual(a->name, BAD_CAST ID_ATTR);
	return xmlStrEqual(a->name, BAD_CAST "id") && xmlStrEqual(a->ns->href, XML_XML_NAMESPACE);
}

/*
 * Registers every Id attribute (no namespace) as an XML ID, the way the
 * xmlsec1 CLI's --id-attr does, and refuses any value carried twice among Id
 * and xml:id attributes: with duplicates, "#x" would name a different element
 * for xmlsec and for anyone looking at the document. dup_code is the error
 * for a duplicate.
 */
static int register_ids(xmlDocPtr doc, int dup_code, char *err, size_t errlen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	for (xmlNodePtr n = root; n; n = next_element(n, root)) {
		for (xmlAttrPtr a = n->properties; a; a = a->next) {
			xmlChar *v;
			xmlAttrPtr have;

			if (!is_id_attr(a) && a->atype != XML_ATTRIBUTE_ID)
				continue;
			v = xmlNodeGetContent((xmlNodePtr)a);
			if (!v)
				return SUIDO_ERR_NOMEM;
			have = xmlGetID(doc, v);
			if (have && have != a) {
				suido_errf(err, errlen, "duplicate Id \"%.64s\" (line %ld)", (char *)v,
					   xmlGetLineNo(n));
				xmlFree(v);
				return dup_code;
			}
			if (!have && xmlAddID(NULL, doc, v, a) == NULL) {
				xmlFree(v);
				return SUIDO_ERR_NOMEM;
			}
			xmlFree(v);
		}
	}
	return SUIDO_OK;
}

static size_t count_elements(xmlDocPtr doc, const xmlChar *name, const xmlChar *ns)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	size_t k = 0;

	for (xmlNodePtr n = root; n; n = next_element(n, root))
		if (is_ns_element(n, name, ns))
			k++;
	return k;
}

static xmlNodePtr find_element(xmlDocPtr doc, const xmlChar *name, const xmlChar *ns)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	for (xmlNodePtr n = root; n; n = next_element(n, root))
		if (is_ns_element(n, name, ns))
			return n;
	return NULL;
}

/*
 * Evaluates xpath on doc into *nodes[*n] (malloc'ed, document order). Every
 * result must be an element. Returns SUIDO_OK (possibly *n == 0),
 * SUIDO_ERR_INVALID, SUIDO_ERR_LIMIT (more than max) or SUIDO_ERR_NOMEM.
 */
static int select_elements(xmlDocPtr doc, const char *xpath, size_t max, xmlNodePtr **nodes,
			   size_t *n, char *err, size_t errlen)
{
	xmlXPathContextPtr xp = NULL;
	xmlXPathObjectPtr res = NULL;
	xmlNodePtr *v = NULL;
	size_t k = 0;
	int rc = SUIDO_ERR_INVALID;

	*nodes = NULL;
	*n = 0;
	if (!xpath || !*xpath) {
		suido_errf(err, errlen, "no XPath given");
		return SUIDO_ERR_INVALID;
	}
	xp = xmlXPathNewContext(doc);
	if (!xp) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	xp->error = silent_xml_error;
	if (xmlXPathRegisterNs(xp, BAD_CAST "ds", xmlSecDSigNs) != 0 ||
	    xmlXPathRegisterNs(xp, BAD_CAST "xenc", xmlSecEncNs) != 0) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	res = xmlXPathEvalExpression(BAD_CAST xpath, xp);
	if (!res || res->type != XPATH_NODESET) {
		suido_errf(err, errlen, "XPath \"%.80s\" is not a valid node-set expression", xpath);
		goto cleanup;
	}
	k = res->nodesetval ? (size_t)res->nodesetval->nodeNr : 0;
	if (k > max) {
		suido_errf(err, errlen, "XPath \"%.80s\" matches %zu elements, more than %zu", xpath,
			   k, max);
		rc = SUIDO_ERR_LIMIT;
		goto cleanup;
	}
	if (k) {
		v = calloc(k, sizeof *v);
		if (!v) {
			rc = SUIDO_ERR_NOMEM;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < k; i++) {
		v[i] = res->nodesetval->nodeTab[i];
		if (v[i]->type != XML_ELEMENT_NODE) {
			suido_errf(err, errlen, "XPath \"%.80s\" matches a node that is not an element",
				   xpath);
			goto cleanup;
		}
	}
	*nodes = v;
	*n = k;
	v = NULL;
	rc = SUIDO_OK;
cleanup:
	free(v);
	xmlXPathFreeObject(res);
	xmlXPathFreeContext(xp);
	return rc;
}

static int contains_node(xmlNodePtr *v, size_t n, xmlNodePtr x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

/* ---- keys ---- */

static int check_rsa(EVP_PKEY *k, const char *role, char *err, size_t errlen)
{
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		suido_errf(err, errlen, "the %s key is not an RSA key", role);
		return SUIDO_ERR_INVALID;
	}
	if (EVP_PKEY_get_bits(k) < 2048) {
		suido_errf(err, errlen, "the %s key has %d bits, fewer than 2048", role,
			   EVP_PKEY_get_bits(k));
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

/* An xmlsec key holding its own reference to k (k stays the caller's). */
static xmlSecKeyPtr wrap_key(EVP_PKEY *k)
{
	xmlSecKeyDataPtr data;
	xmlSecKeyPtr key;

	if (EVP_PKEY_up_ref(k) != 1)
		return NULL;
	data = xmlSecOpenSSLEvpKeyAdopt(k);
	if (!data) {
		EVP_PKEY_free(k);
		return NULL;
	}
	key = xmlSecKeyCreate();
	if (!key) {
		xmlSecKeyDataDestroy(data);
		return NULL;
	}
	if (xmlSecKeySetValue(key, data) < 0) {
		xmlSecKeyDataDestroy(data);
		xmlSecKeyDestroy(key);
		return NULL;
	}
	return key;
}

/* A keys manager whose only key is k: the one xmlsec finds for an
 * EncryptedKey, whatever KeyName or other hint the document carries. */
static xmlSecKeysMngrPtr make_mngr(EVP_PKEY *k)
{
	xmlSecKeysMngrPtr mngr = NULL;
	xmlSecKeyStorePtr store = NULL;
	xmlSecKeyPtr key = NULL;

	mngr = xmlSecKeysMngrCreate();
	if (!mngr)
		goto fail;
	store = xmlSecKeyStoreCreate(xmlSecSimpleKeysStoreId);
	if (!store)
		goto fail;
	if (xmlSecKeysMngrAdoptKeysStore(mngr, store) < 0)
		goto fail;
	store = NULL; /* the manager's now */
	key = wrap_key(k);
	if (!key)
		goto fail;
	if (xmlSecSimpleKeysStoreAdoptKey(xmlSecKeysMngrGetKeysStore(mngr), key) < 0)
		goto fail;
	key = NULL;
	mngr->getKey = xmlSecKeysMngrGetKey;
	return mngr;
fail:
	if (key)
		xmlSecKeyDestroy(key);
	if (store)
		xmlSecKeyStoreDestroy(store);
	if (mngr)
		xmlSecKeysMngrDestroy(mngr);
	return NULL;
}

/* ---- signing ---- */

/* Returns el's Id (added, fresh and random, when missing) in *id, owned by
 * the caller (xmlFree). */
static int ensure_id(xmlDocPtr doc, xmlNodePtr el, xmlChar **id, char *err, size_t errlen)
{
	xmlAttrPtr a = xmlHasNsProp(el, BAD_CAST ID_ATTR, NULL);
	unsigned char rnd[8];
	char buf[sizeof ID_PREFIX + 2 * sizeof rnd];

	*id = NULL;
	if (a) {
		*id = xmlNodeGetContent((xmlNodePtr)a);
		if (!*id)
			return SUIDO_ERR_NOMEM;
		if (xmlValidateNCName(*id, 0) != 0) {
			suido_errf(err, errlen, "Id \"%.64s\" of <%.64s> is not an NCName",
				   (char *)*id, (char *)el->name);
			xmlFree(*id);
			*id = NULL;
			return SUIDO_ERR_INVALID;
		}
		return SUIDO_OK;
	}
	for (int tries = 0; tries < 8; tries++) {
		if (RAND_bytes(rnd, sizeof rnd) != 1) {
			suido_errf(err, errlen, "RAND_bytes failed");
			return SUIDO_ERR_INVALID;
		}
		snprintf(buf, sizeof buf, ID_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
			 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		if (xmlGetID(doc, BAD_CAST buf) == NULL)
			break;
		buf[0] = '\0';
	}
	if (!buf[0]) {
		suido_errf(err, errlen, "could not find a free Id");
		return SUIDO_ERR_INVALID;
	}
	a = xmlSetProp(el, BAD_CAST ID_ATTR, BAD_CAST buf);
	if (!a || xmlAddID(NULL, doc, BAD_CAST buf, a) == NULL)
		return SUIDO_ERR_NOMEM;
	*id = xmlStrdup(BAD_CAST buf);
	return *id ? SUIDO_OK : SUIDO_ERR_NOMEM;
}

static int sign_doc(xmlDocPtr doc, EVP_PKEY *pkey, X509 *cert, const char *xpath, size_t max,
		    char *err, size_t errlen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr *sel = NULL, sig = NULL;
	size_t nsel = 0;
	xmlSecDSigCtxPtr dctx = NULL;
	xmlSecKeyPtr key = NULL;
	xmlChar *id = NULL, *uri = NULL;
	int rc;

	rc = check_rsa(pkey, "signing", err, errlen);
	if (rc)
		goto cleanup;
	if (cert && X509_check_private_key(cert, pkey) != 1) {
		suido_errf(err, errlen, "the certificate does not match the signing key");
		rc = SUIDO_ERR_INVALID;
		goto cleanup;
	}
	rc = register_ids(doc, SUIDO_ERR_INVALID, err, errlen);
	if (rc)
		goto cleanup;
	if (find_element(doc, xmlSecNodeSignature, xmlSecDSigNs)) {
		suido_errf(err, errlen, "the document already has a ds:Signature");
		rc = SUIDO_ERR_INVALID;
		goto cleanup;
	}
	rc = select_elements(doc, xpath, max, &sel, &nsel, err, errlen);
	if (rc)
		goto cleanup;
	rc = SUIDO_ERR_INVALID;
	if (nsel == 0) {
		suido_errf(err, errlen, "XPath \"%.80s\" matches no element", xpath);
		goto cleanup;
	}

	rc = SUIDO_ERR_NOMEM;
	sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
					      xmlSecOpenSSLTransformRsaSha256Id, NULL, BAD_CAST "ds");
	if (!sig)
		goto cleanup;
	if (!xmlAddChild(root, sig)) {
		xmlFreeNode(sig);
		goto cleanup;
	}
	for (size_t i = 0; i < nsel; i++) {
		xmlNodePtr ref;

		rc = ensure_id(doc, sel[i], &id, err, errlen);
		if (rc)
			goto cleanup;
		rc = SUIDO_ERR_NOMEM;
		uri = xmlStrncatNew(BAD_CAST "#", id, -1);
		if (!uri)
			goto cleanup;
		ref = xmlSecTmplSignatureAddReference(sig, xmlSecOpenSSLTransformSha256Id, NULL,
						      uri, NULL);
		if (!ref)
			goto cleanup;
		/* Only the document element contains the signature. */
		if (sel[i] == root && !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId))
			goto cleanup;
		if (!xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId))
			goto cleanup;
		xmlFree(id);
		xmlFree(uri);
		id = uri = NULL;
	}
	if (cert) {
		xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
		xmlNodePtr xd = ki ? xmlSecTmplKeyInfoAddX509Data(ki) : NULL;

		if (!xd || !xmlSecTmplX509DataAddCertificate(xd))
			goto cleanup;
	}

	dctx = xmlSecDSigCtxCreate(NULL);
	key = wrap_key(pkey);
	if (!dctx || !key)
		goto cleanup;
	if (cert) {
		xmlSecKeyDataPtr x509 = xmlSecKeyEnsureData(key, xmlSecOpenSSLKeyDataX509Id);

		if (!x509 || X509_up_ref(cert) != 1)
			goto cleanup;
		if (xmlSecOpenSSLKeyDataX509AdoptCert(x509, cert) < 0) {
			X509_free(cert);
			goto cleanup;
		}
	}
	dctx->signKey = key;
	key = NULL; /* dctx's now */
	if (xmlSecDSigCtxSign(dctx, sig) < 0) {
		suido_errf(err, errlen, "signing failed: %s", xsec_reason());
		rc = SUIDO_ERR_INVALID;
		goto cleanup;
	}
	rc = SUIDO_OK;
cleanup:
	xmlFree(id);
	xmlFree(uri);
	if (key)
		xmlSecKeyDestroy(key);
	if (dctx)
		xmlSecDSigCtxDestroy(dctx);
	free(sel);
	return rc;
}

/* ---- verification ---- */

/* The element a Reference URI names: "" the document element, "#<NCName>"
 * the owner of that ID. Anything else (XPointer, other documents) is NULL. */
static xmlNodePtr resolve_ref(xmlDocPtr doc, const xmlChar *uri)
{
	xmlAttrPtr a;

	if (!uri)
		return NULL;
	if (!uri[0])
		return xmlDocGetRootElement(doc);
	if (uri[0] != '#' || xmlValidateNCName(uri + 1, 0) != 0)
		return NULL;
	a = xmlGetID(doc, uri + 1);
	if (!a || a->type != XML_ATTRIBUTE_NODE || !a->parent ||
	    a->parent->type != XML_ELEMENT_NODE)
		return NULL;
	return a->parent;
}

/*
 * Whether a Reference covers el: el is a referenced element itself, or lies
 * inside one and outside any ds:Signature. With only exc-c14n and
 * enveloped-signature allowed as transforms, a reference digests its
 * element's whole subtree except the enveloping ds:Signature (and comments),
 * so that is exactly what the signature protects. Identity is by node: an
 * element with the same name or Id elsewhere (signature wrapping) is not.
 */
static int is_covered(xmlNodePtr *signed_nodes, size_t n, xmlNodePtr el)
{
	for (xmlNodePtr p = el; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
		if (contains_node(signed_nodes, n, p))
			return 1;
		if (is_ns_element(p, xmlSecNodeSignature, xmlSecDSigNs))
			return 0;
	}
	return 0;
}

static size_t count_references(xmlNodePtr sig)
{
	xmlNodePtr si = xmlSecGetNextElementNode(sig->children);
	size_t k = 0;

	if (!is_ns_element(si, xmlSecNodeSignedInfo, xmlSecDSigNs))
		return 0;
	for (xmlNodePtr c = xmlSecGetNextElementNode(si->children); c;
	     c = xmlSecGetNextElementNode(c->next))
		if (is_ns_element(c, xmlSecNodeReference, xmlSecDSigNs))
			k++;
	return k;
}

static int restrict_dsig(xmlSecDSigCtxPtr d)
{
	d->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
	d->enabledReferenceUris = xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument;
	if (xmlSecDSigCtxEnableSignatureTransform(d, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(d, xmlSecOpenSSLTransformRsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(d, xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(d, xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(d, xmlSecOpenSSLTransformSha256Id) < 0)
		return -1;
	/* Belt and braces: KeyInfo is never read because signKey is preset, but
	 * should it be, KeyName is the only (harmless) kind of key data allowed. */
	if (xmlSecPtrListAdd(&d->keyInfoReadCtx.enabledKeyData, (void *)xmlSecKeyDataNameId) < 0)
		return -1;
	d->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
	d->keyInfoReadCtx.maxEncryptedKeyLevel = 0;
	return 0;
}

static int verify_doc(xmlDocPtr doc, EVP_PKEY *pub, const char *xpath_required, size_t max,
		      char *err, size_t errlen)
{
	xmlNodePtr sig, *signed_nodes = NULL, *req = NULL;
	size_t nrefs, nlist, nreq = 0;
	xmlSecDSigCtxPtr dctx = NULL;
	int rc;

	rc = check_rsa(pub, "verification", err, errlen);
	if (rc)
		goto cleanup;
	rc = register_ids(doc, SUIDO_ERR_SIGNATURE, err, errlen);
	if (rc)
		goto cleanup;
	/* Required elements are chosen before anything else runs on the tree. */
	rc = select_elements(doc, xpath_required, SIZE_MAX, &req, &nreq, err, errlen);
	if (rc)
		goto cleanup;

	rc = SUIDO_ERR_SIGNATURE;
	switch (count_elements(doc, xmlSecNodeSignature, xmlSecDSigNs)) {
	case 0:
		suido_errf(err, errlen, "the document has no ds:Signature");
		goto cleanup;
	case 1:
		break;
	default:
		suido_errf(err, errlen, "the document has more than one ds:Signature");
		goto cleanup;
	}
	sig = find_element(doc, xmlSecNodeSignature, xmlSecDSigNs);
	nrefs = count_references(sig);
	if (nrefs == 0) {
		suido_errf(err, errlen, "ds:Signature has no ds:SignedInfo/ds:Reference");
		goto cleanup;
	}
	if (nrefs > max) {
		suido_errf(err, errlen, "ds:Signature has %zu references, more than %zu", nrefs, max);
		rc = SUIDO_ERR_LIMIT;
		goto cleanup;
	}

	rc = SUIDO_ERR_NOMEM;
	dctx = xmlSecDSigCtxCreate(NULL);
	if (!dctx || restrict_dsig(dctx) < 0)
		goto cleanup;
	dctx->signKey = wrap_key(pub);
	if (!dctx->signKey)
		goto cleanup;
	rc = SUIDO_ERR_SIGNATURE;
	if (xmlSecDSigCtxVerify(dctx, sig) < 0) {
		suido_errf(err, errlen, "signature not verifiable: %s", xsec_reason());
		goto cleanup;
	}
	nlist = xmlSecPtrListGetSize(&dctx->signedInfoReferences);
	if (dctx->status != xmlSecDSigStatusSucceeded) {
		for (size_t i = 0; i < nlist; i++) {
			xmlSecDSigReferenceCtxPtr r =
				xmlSecPtrListGetItem(&dctx->signedInfoReferences, i);
			if (r && r->status != xmlSecDSigStatusSucceeded) {
				suido_errf(err, errlen, "the digest of reference \"%.64s\" does not match",
					   r->uri ? (char *)r->uri : "");
				goto cleanup;
			}
		}
		suido_errf(err, errlen, "the SignatureValue does not verify");
		goto cleanup;
	}
	/* What xmlsec accepted must be exactly what this profile allows. */
	if (!dctx->c14nMethod || dctx->c14nMethod->id != xmlSecTransformExclC14NId ||
	    !dctx->signMethod || dctx->signMethod->id != xmlSecOpenSSLTransformRsaSha256Id) {
		suido_errf(err, errlen, "canonicalization or signature method not allowed");
		goto cleanup;
	}
	if (nlist != nrefs) {
		suido_errf(err, errlen, "xmlsec processed %zu of %zu references", nlist, nrefs);
		goto cleanup;
	}
	signed_nodes = calloc(nlist, sizeof *signed_nodes);
	if (!signed_nodes) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nlist; i++) {
		xmlSecDSigReferenceCtxPtr r = xmlSecPtrListGetItem(&dctx->signedInfoReferences, i);

		if (!r || r->status != xmlSecDSigStatusSucceeded || !r->digestMethod ||
		    r->digestMethod->id != xmlSecOpenSSLTransformSha256Id) {
			suido_errf(err, errlen, "reference %zu: not verified with SHA-256", i + 1);
			goto cleanup;
		}
		signed_nodes[i] = resolve_ref(doc, r->uri);
		if (!signed_nodes[i]) {
			suido_errf(err, errlen, "reference URI \"%.64s\" not allowed",
				   r->uri ? (char *)r->uri : "(none)");
			goto cleanup;
		}
	}
	if (nreq == 0) {
		suido_errf(err, errlen, "no element matches the required XPath \"%.80s\"",
			   xpath_required);
		goto cleanup;
	}
	for (size_t i = 0; i < nreq; i++)
		if (!is_covered(signed_nodes, nlist, req[i])) {
			suido_errf(err, errlen,
				   "<%.64s> (line %ld) matches the required XPath but is not signed",
				   (char *)req[i]->name, xmlGetLineNo(req[i]));
			goto cleanup;
		}
	rc = SUIDO_OK;
cleanup:
	if (dctx)
		xmlSecDSigCtxDestroy(dctx);
	free(signed_nodes);
	free(req);
	return rc;
}

/* ---- encryption ---- */

static xmlSecTransformId aes_cbc(int bits)
{
	switch (bits) {
	case 128: return xmlSecOpenSSLTransformAes128CbcId;
	case 192: return xmlSecOpenSSLTransformAes192CbcId;
	case 256: return xmlSecOpenSSLTransformAes256CbcId;
	}
	return xmlSecTransformIdUnknown;
}

static int has_selected_ancestor(xmlNodePtr *sel, size_t n, xmlNodePtr x)
{
	for (xmlNodePtr p = x->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
		if (contains_node(sel, n, p))
			return 1;
	return 0;
}

static int encrypt_doc(xmlDocPtr doc, EVP_PKEY *pub, int bits, const char *xpath, size_t max,
		       char *err, size_t errlen)
{
	xmlNodePtr *sel = NULL, tmpl = NULL;
	size_t nsel = 0;
	xmlSecKeysMngrPtr mngr = NULL;
	xmlSecEncCtxPtr ectx = NULL;
	xmlSecTransformId cipher = aes_cbc(bits);
	int rc;

	rc = check_rsa(pub, "recipient", err, errlen);
	if (rc)
		goto cleanup;
	rc = SUIDO_ERR_INVALID;
	if (cipher == xmlSecTransformIdUnknown) {
		suido_errf(err, errlen, "AES key size %d is not 128, 192 or 256", bits);
		goto cleanup;
	}
	/* xmlseal_decrypt refuses nested EncryptedData: never produce it. */
	if (find_element(doc, xmlSecNodeEncryptedData, xmlSecEncNs)) {
		suido_errf(err, errlen, "the document already holds EncryptedData");
		goto cleanup;
	}
	rc = select_elements(doc, xpath, max, &sel, &nsel, err, errlen);
	if (rc)
		goto cleanup;
	rc = SUIDO_ERR_INVALID;
	if (nsel == 0) {
		suido_errf(err, errlen, "XPath \"%.80s\" matches no element", xpath);
		goto cleanup;
	}
	rc = SUIDO_ERR_NOMEM;
	mngr = make_mngr(pub);
	if (!mngr)
		goto cleanup;
	/* A match inside another is encrypted with its ancestor: drop it now,
	 * before replacing the ancestor frees it. */
	{
		size_t k = 0;
		char *inner = calloc(nsel, 1);

		if (!inner)
			goto cleanup;
		for (size_t i = 0; i < nsel; i++)
			inner[i] = (char)has_selected_ancestor(sel, nsel, sel[i]);
		for (size_t i = 0; i < nsel; i++)
			if (!inner[i])
				sel[k++] = sel[i];
		nsel = k;
		free(inner);
	}
	for (size_t i = 0; i < nsel; i++) {
		xmlNodePtr ki, ek;

		rc = SUIDO_ERR_NOMEM;
		tmpl = xmlSecTmplEncDataCreate(doc, cipher, NULL, xmlSecTypeEncElement, NULL, NULL);
		if (!tmpl || !xmlSecTmplEncDataEnsureCipherValue(tmpl))
			goto cleanup;
		ki = xmlSecTmplEncDataEnsureKeyInfo(tmpl, NULL);
		ek = ki ? xmlSecTmplKeyInfoAddEncryptedKey(ki, xmlSecOpenSSLTransformRsaOaepId, NULL,
							   NULL, NULL)
			: NULL;
		if (!ek || !xmlSecTmplEncDataEnsureCipherValue(ek))
			goto cleanup;
		ectx = xmlSecEncCtxCreate(mngr);
		if (!ectx)
			goto cleanup;
		/* A fresh random session key for every EncryptedData. */
		ectx->encKey = xmlSecKeyGenerate(xmlSecOpenSSLKeyDataAesId, (xmlSecSize)bits,
						 xmlSecKeyDataTypeSession);
		if (!ectx->encKey)
			goto cleanup;
		if (xmlSecEncCtxXmlEncrypt(ectx, tmpl, sel[i]) < 0) {
			suido_errf(err, errlen, "encryption failed: %s", xsec_reason());
			rc = SUIDO_ERR_INVALID;
			goto cleanup;
		}
		tmpl = NULL; /* replaced sel[i] in the document */
		xmlSecEncCtxDestroy(ectx);
		ectx = NULL;
	}
	rc = SUIDO_OK;
cleanup:
	if (tmpl && !tmpl->parent)
		xmlFreeNode(tmpl);
	if (ectx)
		xmlSecEncCtxDestroy(ectx);
	if (mngr)
		xmlSecKeysMngrDestroy(mngr);
	free(sel);
	return rc;
}

/* ---- decryption ---- */

static int attr_is(xmlNodePtr n, const xmlChar *attr, const xmlChar *value)
{
	xmlChar *v = xmlGetNoNsProp(n, attr);
	int eq = v && xmlStrEqual(v, value);

	xmlFree(v);
	return eq;
}

/* Only elements and whitespace directly inside n: xmlsec skips any other
 * text between the parts of EncryptedData, which would make the ciphertext
 * wrapper malleable for nothing. */
static int only_elements(xmlNodePtr n)
{
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (c->type != XML_ELEMENT_NODE && !(c->type == XML_TEXT_NODE && xmlIsBlankNode(c)))
			return 0;
	return 1;
}

static int is_aes_cbc_method(xmlNodePtr m)
{
	return attr_is(m, xmlSecAttrAlgorithm, xmlSecHrefAes128Cbc) ||
	       attr_is(m, xmlSecAttrAlgorithm, xmlSecHrefAes192Cbc) ||
	       attr_is(m, xmlSecAttrAlgorithm, xmlSecHrefAes256Cbc);
}

/* CipherData holding exactly one CipherValue (no CipherReference: that
 * would make xmlsec fetch a URI). */
static int check_cipher_data(xmlNodePtr cd)
{
	xmlNodePtr cv;

	if (!is_ns_element(cd, xmlSecNodeCipherData, xmlSecEncNs) || !only_elements(cd))
		return 0;
	cv = xmlSecGetNextElementNode(cd->children);
	return is_ns_element(cv, xmlSecNodeCipherValue, xmlSecEncNs) &&
	       !xmlSecGetNextElementNode(cv->next);
}

/* EncryptionMethod rsa-oaep-mgf1p, optionally with ds:DigestMethod sha1
 * (its default) and nothing else. */
static int check_oaep_method(xmlNodePtr m)
{
	xmlNodePtr c;

	if (!is_ns_element(m, xmlSecNodeEncryptionMethod, xmlSecEncNs) || !only_elements(m) ||
	    !attr_is(m, xmlSecAttrAlgorithm, xmlSecHrefRsaOaep))
		return 0;
	c = xmlSecGetNextElementNode(m->children);
	if (c && is_ns_element(c, xmlSecNodeDigestMethod, xmlSecDSigNs) &&
	    attr_is(c, xmlSecAttrAlgorithm, xmlSecHrefSha1))
		c = xmlSecGetNextElementNode(c->next);
	return c == NULL;
}

/*
 * The only EncryptedData shape accepted (what xmlseal_encrypt writes, and the
 * xmlsec1 CLI with the template of docs/protocol-xml.md): Type Element,
 * EncryptionMethod aes-cbc, ds:KeyInfo with exactly one EncryptedKey
 * (rsa-oaep-mgf1p, optional ds:KeyInfo, CipherValue), CipherValue. Nothing
 * else may reach xmlsec: no key transport with PKCS#1 v1.5, no key
 * wrapping, no RetrievalMethod, no CipherReference.
 */
static int check_enc_data(xmlNodePtr ed, char *err, size_t errlen)
{
	xmlNodePtr c, ki, ek, k;

	if (!attr_is(ed, xmlSecAttrType, xmlSecTypeEncElement)) {
		suido_errf(err, errlen, "EncryptedData Type is not Element");
		return SUIDO_ERR_DECRYPT;
	}
	if (!only_elements(ed)) {
		suido_errf(err, errlen, "text inside EncryptedData");
		return SUIDO_ERR_DECRYPT;
	}
	c = xmlSecGetNextElementNode(ed->children);
	if (!is_ns_element(c, xmlSecNodeEncryptionMethod, xmlSecEncNs) || !is_aes_cbc_method(c) ||
	    !only_elements(c) || xmlSecGetNextElementNode(c->children)) {
		suido_errf(err, errlen, "EncryptedData method is not aes128/192/256-cbc");
		return SUIDO_ERR_DECRYPT;
	}
	ki = xmlSecGetNextElementNode(c->next);
	ek = ki ? xmlSecGetNextElementNode(ki->children) : NULL;
	if (!is_ns_element(ki, xmlSecNodeKeyInfo, xmlSecDSigNs) || !only_elements(ki) ||
	    !is_ns_element(ek, xmlSecNodeEncryptedKey, xmlSecEncNs) || !only_elements(ek) ||
	    xmlSecGetNextElementNode(ek->next)) {
		suido_errf(err, errlen, "EncryptedData has no ds:KeyInfo with one EncryptedKey");
		return SUIDO_ERR_DECRYPT;
	}
	k = xmlSecGetNextElementNode(ek->children);
	if (!check_oaep_method(k)) {
		suido_errf(err, errlen, "EncryptedKey method is not rsa-oaep-mgf1p with SHA-1");
		return SUIDO_ERR_DECRYPT;
	}
	k = xmlSecGetNextElementNode(k->next);
	if (is_ns_element(k, xmlSecNodeKeyInfo, xmlSecDSigNs))
		k = xmlSecGetNextElementNode(k->next);
	if (!check_cipher_data(k) || xmlSecGetNextElementNode(k->next)) {
		suido_errf(err, errlen, "EncryptedKey has no CipherData/CipherValue");
		return SUIDO_ERR_DECRYPT;
	}
	c = xmlSecGetNextElementNode(ki->next);
	if (!check_cipher_data(c) || xmlSecGetNextElementNode(c->next)) {
		suido_errf(err, errlen, "EncryptedData has no CipherData/CipherValue");
		return SUIDO_ERR_DECRYPT;
	}
	return SUIDO_OK;
}

static int restrict_enc(xmlSecEncCtxPtr e)
{
	e->transformCtx.enabledUris = xmlSecTransformUriTypeNone;
	if (xmlSecPtrListAdd(&e->transformCtx.enabledTransforms,
			     (void *)xmlSecOpenSSLTransformAes128CbcId) < 0 ||
	    xmlSecPtrListAdd(&e->transformCtx.enabledTransforms,
			     (void *)xmlSecOpenSSLTransformAes192CbcId) < 0 ||
	    xmlSecPtrListAdd(&e->transformCtx.enabledTransforms,
			     (void *)xmlSecOpenSSLTransformAes256CbcId) < 0 ||
	    xmlSecPtrListAdd(&e->keyInfoReadCtx.enabledKeyData,
			     (void *)xmlSecKeyDataEncryptedKeyId) < 0)
		return -1;
	e->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
	e->keyInfoReadCtx.maxEncryptedKeyLevel = 1;
	return 0;
}

static int decrypt_doc(xmlDocPtr doc, EVP_PKEY *priv, size_t max, char *err, size_t errlen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), *enc = NULL;
	size_t nenc = 0;
	xmlSecKeysMngrPtr mngr = NULL;
	xmlSecEncCtxPtr ectx = NULL;
	int rc;

	rc = check_rsa(priv, "decryption", err, errlen);
	if (rc)
		goto cleanup;
	rc = SUIDO_ERR_DECRYPT;
	nenc = count_elements(doc, xmlSecNodeEncryptedData, xmlSecEncNs);
	if (nenc == 0) {
		suido_errf(err, errlen, "the document has no xenc:EncryptedData");
		goto cleanup;
	}
	if (nenc > max) {
		suido_errf(err, errlen, "%zu EncryptedData elements, more than %zu", nenc, max);
		rc = SUIDO_ERR_LIMIT;
		goto cleanup;
	}
	enc = calloc(nenc, sizeof *enc);
	if (!enc) {
		rc = SUIDO_ERR_NOMEM;
		goto cleanup;
	}
	nenc = 0;
	for (xmlNodePtr n = root; n; n = next_element(n, root))
		if (is_ns_element(n, xmlSecNodeEncryptedData, xmlSecEncNs))
			enc[nenc++] = n;
	for (size_t i = 0; i < nenc; i++) {
		if (has_selected_ancestor(enc, nenc, enc[i])) {
			suido_errf(err, errlen, "nested EncryptedData");
			goto cleanup;
		}
		rc = check_enc_data(enc[i], err, errlen);
		if (rc)
			goto cleanup;
	}
	rc = SUIDO_ERR_NOMEM;
	mngr = make_mngr(priv);
	if (!mngr)
		goto cleanup;
	for (size_t i = 0; i < nenc; i++) {
		ectx = xmlSecEncCtxCreate(mngr);
		if (!ectx || restrict_enc(ectx) < 0) {
			rc = SUIDO_ERR_NOMEM;
			goto cleanup;
		}
		rc = SUIDO_ERR_DECRYPT;
		if (xmlSecEncCtxDecrypt(ectx, enc[i]) < 0 || !ectx->resultReplaced) {
			suido_errf(err, errlen, "decryption failed: %s", xsec_reason());
			goto cleanup;
		}
		xmlSecEncCtxDestroy(ectx);
		ectx = NULL;
	}
	if (find_element(doc, xmlSecNodeEncryptedData, xmlSecEncNs)) {
		suido_errf(err, errlen, "the decrypted content holds EncryptedData");
		goto cleanup;
	}
	rc = SUIDO_OK;
cleanup:
	if (ectx)
		xmlSecEncCtxDestroy(ectx);
	if (mngr)
		xmlSecKeysMngrDestroy(mngr);
	free(enc);
	return rc;
}

/* ---- API ---- */

static void clear_out(char **out, size_t *outlen)
{
	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
}

int xmlseal_sign(const char *xml, size_t len, EVP_PKEY *key, X509 *cert, const char *xpath,
		 const struct xmlseal_limits *lim, char **out, size_t *outlen, char *err,
		 size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	clear_out(out, outlen);
	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = sign_doc(doc, key, cert, xpath, cap_elements(lim), err, errlen);
	if (rc == SUIDO_OK)
		rc = dump_doc(doc, out, outlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}

int xmlseal_verify(const char *xml, size_t len, EVP_PKEY *pub, const char *xpath_required,
		   const struct xmlseal_limits *lim, char *err, size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = verify_doc(doc, pub, xpath_required, cap_elements(lim), err, errlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}

int xmlseal_encrypt(const char *xml, size_t len, EVP_PKEY *recipient_pub, int aes_bits,
		    const char *xpath, const struct xmlseal_limits *lim, char **out,
		    size_t *outlen, char *err, size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	clear_out(out, outlen);
	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = encrypt_doc(doc, recipient_pub, aes_bits, xpath, cap_elements(lim), err,
				 errlen);
	if (rc == SUIDO_OK)
		rc = dump_doc(doc, out, outlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}

int xmlseal_decrypt(const char *xml, size_t len, EVP_PKEY *priv,
		    const struct xmlseal_limits *lim, char **out, size_t *outlen, char *err,
		    size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	clear_out(out, outlen);
	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = decrypt_doc(doc, priv, cap_elements(lim), err, errlen);
	if (rc == SUIDO_OK)
		rc = dump_doc(doc, out, outlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}

int xmlseal_seal(const char *xml, size_t len, EVP_PKEY *sign_key, X509 *sign_cert,
		 const char *sign_xpath, EVP_PKEY *recipient_pub, int aes_bits,
		 const char *enc_xpath, const struct xmlseal_limits *lim, char **out,
		 size_t *outlen, char *err, size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	clear_out(out, outlen);
	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = sign_doc(doc, sign_key, sign_cert, sign_xpath, cap_elements(lim), err, errlen);
	if (rc == SUIDO_OK)
		rc = encrypt_doc(doc, recipient_pub, aes_bits, enc_xpath, cap_elements(lim), err,
				 errlen);
	if (rc == SUIDO_OK)
		rc = dump_doc(doc, out, outlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}

int xmlseal_open(const char *xml, size_t len, EVP_PKEY *priv, EVP_PKEY *sender_pub,
		 const char *xpath_required, const struct xmlseal_limits *lim, char **out,
		 size_t *outlen, char *err, size_t errlen)
{
	struct op op;
	xmlDocPtr doc = NULL;
	int rc;

	clear_out(out, outlen);
	op_begin(&op, err, errlen);
	rc = parse_doc(xml, len, lim, &doc, err, errlen);
	if (rc == SUIDO_OK)
		rc = decrypt_doc(doc, priv, cap_elements(lim), err, errlen);
	if (rc == SUIDO_OK)
		rc = verify_doc(doc, sender_pub, xpath_required, cap_elements(lim), err, errlen);
	if (rc == SUIDO_OK)
		rc = dump_doc(doc, out, outlen);
	xmlFreeDoc(doc);
	op_end(&op);
	return rc;
}
