/*
 * suido tenant | link | app | grant | user | audit: the operator's (and a
 * tenant administrator's) commands over the platform's admin REST API
 * (docs/admin.md): tenants, vendor links, applications and their client
 * configuration, a utility's grants, users, and the audit log. Options
 * --url / --ca / --token-file as for suido gateway (admin_http.h).
 */
#ifndef SUIDO_CLI_CMD_ADMIN_H
#define SUIDO_CLI_CMD_ADMIN_H

/* 1 when group ("tenant", "link", "app", "grant", "user", "audit") is one
 * of these commands. */
int cmd_admin_is(const char *group);

/* argv[0] is the group, argv[1] the subcommand (none for audit). Returns
 * the exit status (cli.h). */
int cmd_admin(int argc, char **argv);

#endif
