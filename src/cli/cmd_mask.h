/*
 * suido mask-key new | mask | unmask: masking of chosen values with a
 * utility's own symmetric key (seed 003 4.1, 4.2.6), by hand.
 */
#ifndef SUIDO_CLI_CMD_MASK_H
#define SUIDO_CLI_CMD_MASK_H

/* argv[0] is "mask-key", "mask" or "unmask". Returns a CLI_* exit status. */
int cmd_mask(int argc, char **argv);

#endif
