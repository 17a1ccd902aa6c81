/*
 * suido seal | open | sign | verify | encrypt | decrypt: the data profile
 * security of seed 003 section 4 by hand, for the JSON, XML and file formats,
 * from standard input (or --in) to standard output (or --out).
 */
#ifndef SUIDO_CLI_CMD_SEAL_H
#define SUIDO_CLI_CMD_SEAL_H

/* argv[0] is the command name. Returns a CLI_* exit status. */
int cmd_seal(int argc, char **argv);

#endif
