/* The states of a client connection (conn.c), apart so that the
 * connection metrics can name them without depending on the transport. */
#ifndef BRANCHD_CONN_STATE_H
#define BRANCHD_CONN_STATE_H

typedef enum {
    CONN_HANDSHAKE,  /* TLS handshake under way */
    CONN_OPEN,       /* reading requests */
    CONN_CLOSING,    /* flushing a last response, reading no more */
} conn_state_t;

#endif
