/*
 * suido original export: the signed original the platform stored with a
 * received message (the verified JWS of a sealed gateway's message), so a
 * stored value can be verified again later with suido verify.
 */
#ifndef SUIDO_CLI_CMD_ORIGINAL_H
#define SUIDO_CLI_CMD_ORIGINAL_H

/* argv[0] is "original". Returns a CLI_* exit status. */
int cmd_original(int argc, char **argv);

#endif
