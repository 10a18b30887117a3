/* daemon/main.c — the daneguard binary: the daemon and its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return cli_verify_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "tlsa") == 0)
        return cli_tlsa_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return cli_check_main(argc - 1, argv + 1);
    fprintf(stderr, "daneguard: the daemon is not written yet\n");
    return 2;
}
