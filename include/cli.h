/* include/cli.h — the operator subcommands of the daneguard binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 verification failure, 2 bad
 * input or usage.
 */
#ifndef DANEGUARD_CLI_H
#define DANEGUARD_CLI_H

int cli_verify_main(int argc, char **argv); /* daneguard verify: offline chain check */
int cli_tlsa_main(int argc, char **argv);   /* daneguard tlsa: make TLSA records */
int cli_check_main(int argc, char **argv);  /* daneguard check: live check of a server */

#endif
