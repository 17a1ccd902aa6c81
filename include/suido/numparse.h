/*
 * Numbers as business systems write them: "1234", "-0.052", "+3", "6,320",
 * "1,234,567.5", "1.5e3", and the same in full-width digits ("６，３２０").
 * Thousands separators must group exactly three digits. NaN, infinities,
 * hexadecimal and anything with trailing text are rejected.
 */
#ifndef SUIDO_NUMPARSE_H
#define SUIDO_NUMPARSE_H

#include <stddef.h>

/*
 * Parses s[0..len) (UTF-8; surrounding spaces ignored) into *out.
 * Returns SUIDO_OK, or SUIDO_ERR_INVALID with a reason in err
 * ("not a number: \"12a\""; the quoted text is cut to 40 bytes).
 * An empty or all-space field is SUIDO_ERR_NOTFOUND (no value).
 */
int numparse_double(const char *s, size_t len, double *out, char *err, size_t errlen);

/*
 * Writes the shortest decimal text that reads back as exactly v
 * ("4.5", "0.47", "423", "1e+21"); buf needs 32 bytes. Returns the length.
 */
size_t numparse_format(double v, char *buf);

#endif
