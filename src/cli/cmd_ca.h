/*
 * `suido ca`: the operator's commands for the platform's certificate
 * authority (init, issue, revoke, crl) over the library's ca.h. Output files
 * are written durably; private keys with mode 0600.
 */
#ifndef SUIDO_CLI_CMD_CA_H
#define SUIDO_CLI_CMD_CA_H

/*
 * Runs `suido ca SUBCOMMAND ...`; argv[0] is "ca". Messages go to stderr,
 * results (serials, fingerprints) to stdout. Returns the process exit status:
 * 0 success, 64 usage error, 65 bad input (a bad name, days, serial, or an
 * output file that already exists), 69 certificate or CA error (no CA, CA
 * already present, unknown or already revoked serial, key not private), 70
 * internal error (I/O, memory).
 */
int cmd_ca(int argc, char **argv);

#endif
