#ifndef SHIPMAIL_PLUGIN_H
#define SHIPMAIL_PLUGIN_H

/* The mail plugin's entry points, looked up by Dovecot's module loader
   in lib20_shipmail_plugin.so. */

#include "shipmail-export.h"

struct module;

SHIPMAIL_EXPORT extern const char *shipmail_plugin_version;
SHIPMAIL_EXPORT extern const char *shipmail_plugin_dependencies[];

SHIPMAIL_EXPORT void shipmail_plugin_init(struct module *module);
SHIPMAIL_EXPORT void shipmail_plugin_deinit(void);

#endif
