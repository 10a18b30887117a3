/* daemon/cli_check.c — daneguard check: the live check of a published TLSA RRset.
 *
 * A placeholder so the binary links; the real command needs the resolver and
 * will replace this file.
 */
#include <stdio.h>

#include "cli.h"

int cli_check_main(int argc, char **argv)
{
    fprintf(stderr, "daneguard check: not implemented yet\n");
    return 2;
}
