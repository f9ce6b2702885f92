/* The connections a server holds, and who gives way when it is full.
 *
 * Every connection is either waiting (for its TLS handshake, for a request,
 * or in the middle of reading one) or busy (its request is with the handler,
 * or its answer is going out). The table keeps them in the order they began
 * to wait. A newcomer is always let in; to make room for it, a waiting
 * connection gives way (is shed): the oldest waiting one of the newcomer's
 * own address when that address is at its limit, else, when the table is
 * full, the oldest waiting one of the address that holds the most
 * connections. Busy connections never give way: when none is waiting, the
 * newcomer is marked over the limit (it gets 429 and is closed), and past
 * twice the limit it is refused at once. So a crowd of slow clients holds at
 * most the room nobody else needs: a client with one connection is pushed out
 * only when no address holds more, and one address never holds more than its
 * share.
 *
 * Plain data, no I/O: the server (server.c) closes what this says to. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "service_internal.h"

void dm_svc_conn_addr(dm_svc_conn *c, const struct sockaddr *sa) {
    memset(c->addr, 0, sizeof c->addr);
    if (sa->sa_family == AF_INET) {
        /* As an IPv4-mapped IPv6 address, so that both forms of one peer count as one. */
        c->addr[10] = c->addr[11] = 0xff;
        memcpy(c->addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(c->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static void unlink_conn(dm_svc_conns *t, dm_svc_conn *c) {
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        t->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        t->tail = c->tprev;
    c->tprev = c->tnext = NULL;
}

static void append(dm_svc_conns *t, dm_svc_conn *c) {
    c->tprev = t->tail;
    c->tnext = NULL;
    if (t->tail)
        t->tail->tnext = c;
    else
        t->head = c;
    t->tail = c;
}

/* The connection that has waited longest (of address addr, or of all when
 * addr is NULL), never c itself; NULL when every other one is busy. */
static dm_svc_conn *oldest_waiting(const dm_svc_conns *t, const dm_svc_conn *c,
                                   const uint8_t *addr) {
    for (dm_svc_conn *o = t->head; o != NULL; o = o->tnext)
        if (o != c && !o->busy && (addr == NULL || memcmp(o->addr, addr, sizeof o->addr) == 0))
            return o;
    return NULL;
}

/* The waiting connection (never c) of the address that holds the most
 * connections, the oldest of that address; NULL when all others are busy. */
static dm_svc_conn *heaviest_waiting(const dm_svc_conns *t, const dm_svc_conn *c) {
    dm_svc_conn *best = NULL;
    for (dm_svc_conn *o = t->head; o != NULL; o = o->tnext)
        if (o != c && !o->busy && (best == NULL || o->group->n > best->group->n))
            best = o;
    return best;
}

int dm_svc_conns_admit(dm_svc_conns *t, dm_svc_conn *c, dm_svc_conn **shed) {
    *shed = NULL;
    c->busy = 0;
    c->over = 0;
    c->group = NULL;
    unsigned max = t->max ? t->max : 1, per_addr = t->per_addr ? t->per_addr : max;
    if (t->n >= 2 * max)
        return DM_SVC_REFUSE;
    for (const dm_svc_conn *o = t->head; o != NULL && c->group == NULL; o = o->tnext)
        if (memcmp(o->addr, c->addr, sizeof c->addr) == 0)
            c->group = o->group;
    if (c->group == NULL && (c->group = calloc(1, sizeof *c->group)) == NULL)
        return DM_SVC_REFUSE;
    unsigned same = c->group->n++;
    append(t, c);
    c->in_table = 1;
    t->n++;
    if (same >= per_addr) {
        if ((*shed = oldest_waiting(t, c, c->addr)) == NULL) {
            c->over = DM_SVC_OVER_ADDRESS;
            return DM_SVC_OVER;
        }
    } else if (t->n > max) {
        if ((*shed = heaviest_waiting(t, c)) == NULL) {
            c->over = DM_SVC_OVER_TOTAL;
            return DM_SVC_OVER;
        }
    } else {
        return DM_SVC_ADMITTED;
    }
    dm_svc_conns_remove(t, *shed);
    return DM_SVC_SHED;
}

void dm_svc_conns_remove(dm_svc_conns *t, dm_svc_conn *c) {
    if (!c->in_table)
        return;
    unlink_conn(t, c);
    c->in_table = 0;
    t->n--;
    if (--c->group->n == 0)
        free(c->group);
    c->group = NULL;
}

void dm_svc_conns_busy(dm_svc_conns *t, dm_svc_conn *c) {
    (void)t;
    c->busy = 1;
}

void dm_svc_conns_waiting(dm_svc_conns *t, dm_svc_conn *c) {
    c->busy = 0;
    if (!c->in_table)
        return;
    unlink_conn(t, c);
    append(t, c);
}
