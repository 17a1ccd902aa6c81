/*
 * The data profile, XML format, version 1 (profile "suido.data/1", namespace
 * "urn:suido:data:1"): the same data message as the JSON format of profile.h
 * (struct profile_msg), written as XML so that the XML data profile security
 * of seed 003 section 4 (xmlseal.h) can sign it and encrypt chosen elements
 * while the header stays readable. docs/protocol-xml.md is the normative
 * description for vendors; this module is the one encoder and the one
 * decoder of it.
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <Data xmlns="urn:suido:data:1" profile="suido.data/1"
 *         id="gw1:1763600000:42" utility="demo" gateway="gw1"
 *         sent="2026-11-20T01:00:00Z">
 *   <Items>
 *   <Item id="haisuichi.0f.." name="配水池水位(m)" unit="m" facility="配水池"/>
 *   </Items>
 *   <Points>
 *   <P i="0" t="2026-11-19T15:00:00Z" v="4.5"/>
 *   <P i="1" t="2026-11-19T15:00:00Z" s="~m1.s.k1.…"/>
 *   </Points>
 *   </Data>
 *
 * Data carries the header as attributes (profile, id, utility, gateway
 * required; sent optional) and exactly one Items and one Points child, in
 * either order. An Item has id and name (required), unit and facility
 * (optional, default ""). A P (point) has i (index into the Items, decimal,
 * 0-based), t (ISO 8601 instant with Z or an offset) and exactly one of v (a
 * number in JSON number syntax, finite) or s (a text value of at most
 * PROFILE_VALUE_TEXT_MAX bytes). Item and P are empty elements.
 *
 * What is ignored (newer minor versions may add it): attributes not listed
 * above (an Id added by the signer among them) and attributes in a
 * namespace, and any child element of Data other than Items and Points (the
 * ds:Signature among them). Whitespace between elements is ignored; other
 * text content, comments aside, is an error. Elements other than Item in
 * Items or other than P in Points are errors.
 *
 * Input is parsed with libxml2's SAX2 parser, streaming (no document tree),
 * without network access; a DOCTYPE is refused before any declaration in it
 * is read, so no entity is ever defined or expanded. Nesting depth is
 * libxml2's default cap (256). Any encoding libxml2 knows is transcoded; the
 * strings of the decoded message are UTF-8.
 *
 * Threads: the functions may run concurrently on different inputs once
 * libxml2 is initialised; the first call initialises it (xmlInitParser), so
 * a threaded program makes one call, or calls xmlInitParser, before it
 * starts threads.
 */
#ifndef SUIDO_PROFILE_XML_H
#define SUIDO_PROFILE_XML_H

#include <stddef.h>

#include "profile.h"
#include "strbuf.h"

#define PROFILE_XML_NS "urn:suido:data:1"

/*
 * The elements the GW interface's XML transport seals (docs/protocol-xml.md),
 * as xmlseal.h XPath expressions: the document element Data is signed (an
 * enveloped signature over the whole message, header included) and is the
 * element a receiver requires to be signed; Points is encrypted.
 */
#define PROFILE_XML_XPATH_DATA "/*[local-name()='Data' and namespace-uri()='" PROFILE_XML_NS "']"
#define PROFILE_XML_XPATH_POINTS                                                            \
	PROFILE_XML_XPATH_DATA "/*[local-name()='Points' and namespace-uri()='" PROFILE_XML_NS "']"

/*
 * Decodes an XML data message with the same checks and caps as
 * profile_decode (names with profile_name_valid, item ids with
 * profile_item_id_valid and unique, the message id with
 * profile_msg_id_parse and its gateway part equal to the gateway
 * attribute, instants with an offset, finite numbers, the lengths of
 * profile.h). lim may be NULL (the defaults of struct profile_limits).
 * Returns SUIDO_OK and *out (free with profile_msg_free), SUIDO_ERR_LIMIT
 * (a cap of lim exceeded: "message larger than N bytes", "Points: more
 * than N"), SUIDO_ERR_INVALID with what and where in err
 * ("Points/P[3]@t: not an ISO 8601 instant with offset", indexes 0-based
 * as in the JSON format; "not well-formed XML (line 4): ..."; "a DOCTYPE
 * is not allowed"), or SUIDO_ERR_NOMEM. *out is NULL on failure.
 */
int profile_xml_decode(const char *buf, size_t len, const struct profile_limits *lim,
		       struct profile_msg **out, char *err, size_t errlen);

/*
 * Appends the XML document of m (declaration, UTF-8, one element per line)
 * to out. Numbers are written in the shortest form that reads back exactly
 * (numparse_format), instants in UTC with milliseconds when not zero.
 * Attribute values are escaped (&amp; &lt; &gt; &quot;, and tab, line feed
 * and carriage return as character references, so that they survive
 * attribute-value normalization). Returns SUIDO_OK, SUIDO_ERR_INVALID when a
 * string of m is not UTF-8 or holds a character XML 1.0 cannot carry (C0
 * controls other than tab, LF, CR; U+FFFE, U+FFFF), with where in err
 * ("Items/Item[2]@name: U+0001 cannot be written in XML"), or
 * SUIDO_ERR_NOMEM when out failed (out->failed: memory or its limit). On
 * failure out may hold part of the document.
 */
int profile_xml_encode(const struct profile_msg *m, struct strbuf *out, char *err,
		       size_t errlen);

#endif
