/*
 * suido: the command for operators and vendors. This file only dispatches;
 * each command group lives in its own cmd_*.c.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "cmd_admin.h"
#include "cmd_ca.h"
#include "cmd_mask.h"
#include "cmd_gateway.h"
#include "cmd_original.h"
#include "cmd_seal.h"
#include "suido/hex.h"
#include "suido/profile.h"

#define SUIDO_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f, "usage: suido COMMAND [ARGS]\n"
		   "commands:\n"
		   "  seal | open | sign | verify | encrypt | decrypt --format json|xml|file ...\n"
		   "                            data profile security of seed 003 (--help for each)\n"
		   "  mask | unmask --key FILE  mask values with a utility's key, or unmask them\n"
		   "  mask-key new --out FILE   make a utility masking key\n"
		   "  ca init | issue | revoke | crl ...  the platform's certificate authority\n"
		   "  original export --db DB --utility ID --message ID [--out FILE]\n"
		   "                            the signed original the platform stored with a\n"
		   "                            message (check it with suido verify --format json)\n"
		   "  tenant add | list | show  tenants: utilities, vendors, the operator\n"
		   "  link add | remove | list  which vendor serves which utility\n"
		   "  app add | list | show | update | revoke | reinstate | rotate-secret |\n"
		   "      client-config         applications (OIDC clients) and their client\n"
		   "                            configuration\n"
		   "  grant set | revoke | list a utility's grants to applications\n"
		   "  user add | list | show | update | reset-password   users of a tenant\n"
		   "  audit [--after N]         the registry's audit log\n"
		   "                            (these ask the platform's admin API, docs/admin.md;\n"
		   "                            suido GROUP --help for each)\n"
		   "  gateway start | stop | resend GATEWAY   an operator's command to a gateway\n"
		   "  gateway list | show | vendor            gateways' owner utility and builder\n"
		   "  token new                 mint the operator's admin token; prints the token\n"
		   "                            and the platform.conf [admin] lines holding its\n"
		   "                            SHA-256 (applications get their tokens from the\n"
		   "                            platform's OpenID provider, docs/oidc.md)\n"
		   "  version                   print the version\n"
		   "  help                      this text\n"
		   "exit status: 0 ok, 64 usage, 65 bad input, 66 signature invalid, 67 decryption\n"
		   "failed, 69 certificate invalid or revoked, 70 internal error, 74 I/O error\n");
}

static int token_new(int argc, char **argv)
{
	unsigned char raw[32], md[32];
	char tok[65], sha[65];
	unsigned int n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--utility") == 0) {
			fprintf(stderr, "suido: token new --utility: static AP tokens are gone; an "
					"application gets its tokens from the platform's OpenID provider "
					"(suido app add, docs/oidc.md)\n");
			return 64;
		}
		usage(stderr);
		return 64;
	}
	if (RAND_bytes(raw, sizeof raw) != 1) {
		fprintf(stderr, "suido: no randomness available\n");
		return 70;
	}
	hex_encode(raw, sizeof raw, tok);
	if (EVP_Digest(tok, 64, md, &n, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "suido: SHA-256 failed\n");
		return 70;
	}
	hex_encode(md, sizeof md, sha);
	printf("token = %s\n# platform.conf:\n[admin]\napi_token_sha256 = %s\n", tok, sha);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(tok, sizeof tok);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 64 : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("suido %s\n", SUIDO_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "token") == 0 && argc >= 3 && strcmp(argv[2], "new") == 0)
		return token_new(argc - 3, argv + 3);
	static const char *const seal_cmds[] = {"seal", "open", "sign", "verify", "encrypt",
						"decrypt"};
	for (size_t i = 0; i < sizeof seal_cmds / sizeof *seal_cmds; i++)
		if (strcmp(argv[1], seal_cmds[i]) == 0)
			return cmd_seal(argc - 1, argv + 1);
	if (strcmp(argv[1], "mask") == 0 || strcmp(argv[1], "unmask") == 0 ||
	    strcmp(argv[1], "mask-key") == 0)
		return cmd_mask(argc - 1, argv + 1);
	if (strcmp(argv[1], "ca") == 0)
		return cmd_ca(argc - 1, argv + 1);
	if (strcmp(argv[1], "original") == 0)
		return cmd_original(argc - 1, argv + 1);
	if (strcmp(argv[1], "gateway") == 0)
		return cmd_gateway(argc - 1, argv + 1);
	if (cmd_admin_is(argv[1]))
		return cmd_admin(argc - 1, argv + 1);
	fprintf(stderr, "suido: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 64;
}
