/* include/version.h — daneguard's version, printed by --version and shown on /status. */
#ifndef DANEGUARD_VERSION_H
#define DANEGUARD_VERSION_H

#define DANEGUARD_VERSION "0.2.0"

#endif
