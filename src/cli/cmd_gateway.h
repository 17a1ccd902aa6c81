/*
 * suido gateway start|stop|resend: an operator's commands to a gateway,
 * asked of the platform over its admin interface (POST
 * /admin/v1/gateways/{id}/commands, docs/api.md), which signs and publishes
 * them (docs/protocol.md "Commands"). docs/cli.md documents the options.
 */
#ifndef SUIDO_CLI_CMD_GATEWAY_H
#define SUIDO_CLI_CMD_GATEWAY_H

/* argv[0] is "gateway". Returns the exit status (cli.h). */
int cmd_gateway(int argc, char **argv);

#endif
