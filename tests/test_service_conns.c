/* Who gives way when a server is full (service/conns.c): a newcomer is let
 * in and a waiting connection is shed: the oldest of the newcomer's own
 * address when that address is at its limit, else the oldest of the address
 * that holds the most connections; busy connections are
 * never shed; with none to shed the newcomer is over the limit (429), and
 * past twice the limit refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "service_internal.h"
#include "unit_main.h"

static void set_v4(dm_svc_conn *c, const char *ip) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    memset(c, 0, sizeof *c);
    dm_svc_conn_addr(c, (const struct sockaddr *)&sin);
}

/* Takes every connection out of the table: their address groups are freed. */
static void empty_table(dm_svc_conns *t) {
    while (t->head != NULL)
        dm_svc_conns_remove(t, t->head);
    assert_int_equal(t->n, 0);
}

static void test_admit_and_shed_oldest(void **state) {
    (void)state;
    dm_svc_conns t = {.max = 3, .per_addr = 3};
    dm_svc_conn c[5], *shed = NULL;
    const char *ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"};
    for (int i = 0; i < 3; i++) {
        set_v4(&c[i], ips[i]);
        assert_int_equal(dm_svc_conns_admit(&t, &c[i], &shed), DM_SVC_ADMITTED);
        assert_null(shed);
    }
    assert_int_equal(t.n, 3);
    /* Full: the fourth makes the longest waiting (the first) give way. */
    set_v4(&c[3], ips[3]);
    assert_int_equal(dm_svc_conns_admit(&t, &c[3], &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &c[0]);
    assert_int_equal(c[0].in_table, 0);
    assert_int_equal(t.n, 3);
    /* The second is busy, then answered: it waits anew, the newest. The
     * third has now waited longest. */
    dm_svc_conns_busy(&t, &c[1]);
    dm_svc_conns_waiting(&t, &c[1]);
    set_v4(&c[4], ips[4]);
    assert_int_equal(dm_svc_conns_admit(&t, &c[4], &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &c[2]);
    assert_int_equal(c[4].over, 0);
    empty_table(&t);
}

static void test_busy_never_shed(void **state) {
    (void)state;
    dm_svc_conns t = {.max = 2, .per_addr = 2};
    dm_svc_conn c[6], *shed = NULL;
    set_v4(&c[0], "10.0.0.1");
    set_v4(&c[1], "10.0.0.2");
    assert_int_equal(dm_svc_conns_admit(&t, &c[0], &shed), DM_SVC_ADMITTED);
    assert_int_equal(dm_svc_conns_admit(&t, &c[1], &shed), DM_SVC_ADMITTED);
    dm_svc_conns_busy(&t, &c[0]);
    /* The busy first one is skipped: the second gives way. */
    set_v4(&c[2], "10.0.0.3");
    assert_int_equal(dm_svc_conns_admit(&t, &c[2], &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &c[1]);
    dm_svc_conns_busy(&t, &c[2]);
    /* All busy: the newcomer is over the limit (429), and counted. */
    set_v4(&c[3], "10.0.0.4");
    assert_int_equal(dm_svc_conns_admit(&t, &c[3], &shed), DM_SVC_OVER);
    assert_null(shed);
    assert_int_equal(c[3].over, DM_SVC_OVER_TOTAL);
    assert_int_equal(t.n, 3);
    /* An over one waiting gives way to the next newcomer like any other. */
    set_v4(&c[4], "10.0.0.5");
    assert_int_equal(dm_svc_conns_admit(&t, &c[4], &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &c[3]);
    dm_svc_conns_busy(&t, &c[4]);
    set_v4(&c[5], "10.0.0.6");
    assert_int_equal(dm_svc_conns_admit(&t, &c[5], &shed), DM_SVC_OVER);
    /* Twice the limit: refused, not let in. */
    dm_svc_conn extra;
    set_v4(&extra, "10.0.0.7");
    assert_int_equal(t.n, 4);
    assert_int_equal(dm_svc_conns_admit(&t, &extra, &shed), DM_SVC_REFUSE);
    assert_int_equal(extra.in_table, 0);
    assert_int_equal(t.n, 4);
    /* A closed one leaves room. */
    dm_svc_conns_remove(&t, &c[0]);
    assert_int_equal(t.n, 3);
    dm_svc_conns_remove(&t, &c[0]);
    assert_int_equal(t.n, 3);
    empty_table(&t);
}

static void test_per_address(void **state) {
    (void)state;
    dm_svc_conns t = {.max = 100, .per_addr = 2};
    dm_svc_conn a1, b1, a2, a3, a4, *shed = NULL;
    set_v4(&a1, "192.0.2.1");
    set_v4(&b1, "192.0.2.2");
    set_v4(&a2, "192.0.2.1");
    set_v4(&a3, "192.0.2.1");
    set_v4(&a4, "192.0.2.1");
    assert_int_equal(dm_svc_conns_admit(&t, &a1, &shed), DM_SVC_ADMITTED);
    assert_int_equal(dm_svc_conns_admit(&t, &b1, &shed), DM_SVC_ADMITTED);
    assert_int_equal(dm_svc_conns_admit(&t, &a2, &shed), DM_SVC_ADMITTED);
    /* A third from the same address: the oldest of that address gives way,
     * not the older one of another address, though the table has room. */
    assert_int_equal(dm_svc_conns_admit(&t, &a3, &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &a1);
    assert_true(b1.in_table);
    /* That address's connections all busy: 429 for the next, naming the address. */
    dm_svc_conns_busy(&t, &a2);
    dm_svc_conns_busy(&t, &a3);
    assert_int_equal(dm_svc_conns_admit(&t, &a4, &shed), DM_SVC_OVER);
    assert_int_equal(a4.over, DM_SVC_OVER_ADDRESS);
    assert_true(b1.in_table);
    empty_table(&t);
}

static void test_heaviest_address_gives_way(void **state) {
    (void)state;
    dm_svc_conns t = {.max = 4, .per_addr = 10};
    dm_svc_conn b, a[3], c, d, *shed = NULL;
    /* The oldest is b's, alone at its address; a's address holds three. */
    set_v4(&b, "192.0.2.2");
    assert_int_equal(dm_svc_conns_admit(&t, &b, &shed), DM_SVC_ADMITTED);
    for (int i = 0; i < 3; i++) {
        set_v4(&a[i], "192.0.2.1");
        assert_int_equal(dm_svc_conns_admit(&t, &a[i], &shed), DM_SVC_ADMITTED);
    }
    set_v4(&c, "192.0.2.3");
    assert_int_equal(dm_svc_conns_admit(&t, &c, &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &a[0]);
    assert_true(b.in_table);
    /* Now a's address holds two, the others one each: a's oldest again. */
    set_v4(&d, "192.0.2.4");
    assert_int_equal(dm_svc_conns_admit(&t, &d, &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &a[1]);
    /* All at one each: the oldest of all, b. */
    dm_svc_conn e;
    set_v4(&e, "192.0.2.5");
    assert_int_equal(dm_svc_conns_admit(&t, &e, &shed), DM_SVC_SHED);
    assert_ptr_equal(shed, &b);
    assert_int_equal(t.n, 4);
    empty_table(&t);
}

static void test_v4_mapped_is_one_address(void **state) {
    (void)state;
    dm_svc_conn v4, v6;
    set_v4(&v4, "198.51.100.7");
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6.sin6_addr), 1);
    memset(&v6, 0, sizeof v6);
    dm_svc_conn_addr(&v6, (const struct sockaddr *)&sin6);
    assert_memory_equal(v4.addr, v6.addr, sizeof v4.addr);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
    dm_svc_conn_addr(&v6, (const struct sockaddr *)&sin6);
    assert_memory_not_equal(v4.addr, v6.addr, sizeof v4.addr);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_admit_and_shed_oldest),
    cmocka_unit_test(test_busy_never_shed),
    cmocka_unit_test(test_per_address),
    cmocka_unit_test(test_heaviest_address_gives_way),
    cmocka_unit_test(test_v4_mapped_is_one_address),
};

DM_UNIT_MAIN("service_conns", tests, NULL, NULL)
