/* One handler per operation; each ends by calling request_finish(). */
#ifndef BRANCHD_HANDLERS_H
#define BRANCHD_HANDLERS_H

#include "request.h"

void handle_ping(request_t *req);
void handle_server_info(request_t *req);
void handle_cancel(request_t *req);
void handle_lead_watch(request_t *req);

#endif
