#ifndef SHIPMAIL_EXPORT_H
#define SHIPMAIL_EXPORT_H

/* The modules build with hidden visibility; only the entry points that
   Dovecot's module loader looks up are marked visible. */
#define SHIPMAIL_EXPORT __attribute__((visibility("default")))

#endif
