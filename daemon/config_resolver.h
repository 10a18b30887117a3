/* daemon/config_resolver.h — the resolver: section's key table, shared by
 * daemon/config.c and daemon/config_resolver.c (private, not in include/). */
#ifndef DANEGUARD_CONFIG_RESOLVER_H
#define DANEGUARD_CONFIG_RESOLVER_H

#include "keys.h"

#define CONFIG_DNS_PORT 53

/* The keys of resolver: (struct config_resolver), ended by K_END. */
extern const struct key_def config_resolver_keys[];

#endif
