/* resolver/fdwrap.c — socket() and close() for a whole process that runs getdns.
 *
 * Why this exists: Debian's getdns 1.6.0 closes some fds twice, closes fds
 * while our polls still watch them, and leaves a freed request on a list when
 * its socket() fails with EMFILE and it is cancelled. Each of these crashes or
 * corrupts a libuv loop (resolver/uvloop.c's head comment tells the stories).
 * The only place to see getdns's calls is the calls themselves, so this object
 * defines socket() and close() for the program it is linked into, and hands
 * each call, with its return address, to uvloop_socket_from() and
 * uvloop_close_from(), which tell libgetdns's calls from the rest.
 *
 * Defining libc's names changes them for every caller in the process, so this
 * object is not in libdaneguard.a: only the daemon and the test programs that
 * run getdns on a loop link it (the Makefile's FDWRAP_TESTS). A unit test of a
 * parser or of the CA keeps the system's socket() and close().
 */
#include <sys/socket.h>
#include <unistd.h>

#include "uvloop.h"

int socket(int domain, int type, int protocol)
{
    return uvloop_socket_from(__builtin_return_address(0), domain, type, protocol);
}

int close(int fd)
{
    return uvloop_close_from(__builtin_return_address(0), fd);
}
