/* doormat lab, the labs of the access systems (ghost, clear, substitution,
 * retroactive, volume, insider, unbound-id): each lab's core (labs/), the
 * outside checks through the real tools (labs/outside.c), and the narration
 * and table, or the JSON of docs/labs.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lab.h"

/* ------------------------------------------------------------ ghost */

int lab_ghost(lab_args *a) {
    dm_lab_ghost_opts o = {.files = (unsigned)a->files, .dir = a->dir};
    dm_lab_ghost_result r;
    int err = dm_lab_ghost(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab ghost");
    const bool have_age = dm_lab_age_available();
    char self[4096], key[4096], msg[4096], out[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab ghost");
    snprintf(key, sizeof key, "%s/receiver.key", a->dir);
    snprintf(msg, sizeof msg, "%s/message-0001.txt", a->dir);
    snprintf(out, sizeof out, "%s/outside-check.txt", a->dir);
    /* What the receiver's tools say about the first file of each kind, as
     * separate processes: plain age, doormat decrypt, doormat inspect. */
    int age_exit[DM_LAB_GHOST_N], dec_exit[DM_LAB_GHOST_N];
    long inspected[DM_LAB_GHOST_N];
    bool age_same[DM_LAB_GHOST_N];
    for (int p = 0; p < DM_LAB_GHOST_N; p++) {
        age_exit[p] = -1;
        age_same[p] = false;
        if (have_age)
            age_exit[p] = dm_lab_age_decrypt(key, r.sample[p], msg, out, &age_same[p]);
        dec_exit[p] = dm_lab_cmd_decrypt(self, key, NULL, 0, r.sample[p], msg, out);
        inspected[p] = dm_lab_cmd_inspect_x25519(self, r.sample[p], out);
    }
    for (int p = 0; p < DM_LAB_GHOST_N; p++)
        if (dec_exit[p] != 0 || (have_age && !age_same[p]) ||
            inspected[p] != (long)r.rows[p].stanzas)
            return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                    "unexpected outcome on the %s file: decrypt exit %d, age "
                                    "exit %d, inspect counts %ld stanzas",
                                    dm_lab_ghost_names[p], dec_exit[p], age_exit[p], inspected[p]),
                            "lab ghost");
    if (a->json) {
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (int p = 0; p < DM_LAB_GHOST_N; p++) {
            const dm_lab_ghost_row *w = &r.rows[p];
            json_t *row = lab_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:i}", "client",
                                   dm_lab_ghost_names[p], "files", JU(w->files), "addressed",
                                   JU(w->addressed), "stanzas", JU(w->stanzas), "receiver_opened",
                                   JU(w->receiver_opened), "ghost_opened", JU(w->ghost_opened),
                                   "counted_flags", JU(w->counted_flags), "encrypt_seconds",
                                   J6(w->encrypt_seconds), "inspect_stanzas",
                                   (json_int_t)inspected[p], "decrypt_exit", dec_exit[p]);
            lab_jadd(row, lab_pack("{s:o, s:o}", "age_exit",
                                   have_age ? json_integer(age_exit[p]) : json_null(),
                                   "age_plaintext_matches",
                                   have_age ? json_boolean(age_same[p]) : json_null()));
            json_array_append_new(rows, row);
        }
        lab_jadd(doc,
                 lab_pack("{s:o, s:b, s:b, s:o}", "files", JU(o.files), "age_available", have_age,
                          "ghost_stanza_same_shape", r.ghost_stanza_same_shape, "rows", rows));
        return lab_json_print(doc, a->name);
    }
    printf("The ghost user\n\n"
           "History: Ian Levy and Crispin Robinson of GCHQ (\"Principles for a More Informed\n"
           "Exceptional Access Debate\", Lawfare, November 2018) proposed that a provider\n"
           "silently add a law-enforcement participant to a conversation. The open letter\n"
           "in reply (47 signatories, 30 May 2019) said this requires suppressing\n"
           "notifications and undermines authentication.\n\n"
           "Here a sender writes %u messages to a receiver (and to herself) three ways:\n"
           "an honest client; an honest sender who adds a blind copy on purpose; and a\n"
           "client that silently adds one more X25519 recipient, the ghost, to every file.\n\n",
           o.files);
    printf("%-9s %9s %8s %11s %10s %13s %14s\n", "client", "addressed", "stanzas", "receiver",
           "ghost", "plain age", "count flags");
    for (int p = 0; p < DM_LAB_GHOST_N; p++) {
        const dm_lab_ghost_row *w = &r.rows[p];
        char rcv[32], gh[32], agecol[32], fl[32];
        snprintf(rcv, sizeof rcv, "%zu/%zu", w->receiver_opened, w->files);
        snprintf(gh, sizeof gh, "%zu/%zu", w->ghost_opened, w->files);
        snprintf(fl, sizeof fl, "%zu/%zu", w->counted_flags, w->files);
        if (have_age)
            snprintf(agecol, sizeof agecol, "exit %d%s", age_exit[p], age_same[p] ? ", opens" : "");
        else
            snprintf(agecol, sizeof agecol, "(no age)");
        printf("%-9s %9zu %8zu %11s %10s %13s %14s\n", dm_lab_ghost_names[p], w->addressed,
               w->stanzas, rcv, gh, agecol, fl);
    }
    printf("\n\"receiver\" and \"ghost\": files each really decrypted. The receiver's doormat\n"
           "decrypt and plain age open every file without a word. Each stanza is an\n"
           "ephemeral key and a wrapped file key that name nobody (a privacy feature of\n"
           "age): the ghost's stanza has %s shape as the receiver's. Only counting the\n"
           "stanzas (doormat inspect: %ld, %ld, %ld) against the people the sender meant\n"
           "to address shows that someone was added -- \"count flags\" -- and counting\n"
           "cannot tell a ghost from a blind copy the sender chose. Somebody has to count,\n"
           "and know what to expect: the ghost works because nobody does.\n",
           r.ghost_stanza_same_shape ? "the same" : "a different", inspected[0], inspected[1],
           inspected[2]);
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ clear */

int lab_clear(lab_args *a) {
    dm_lab_clear_opts o = {
        .devices = (unsigned)a->devices, .digits = (unsigned)a->digits, .dir = a->dir};
    dm_lab_clear_result r;
    int err = dm_lab_clear(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab clear");
    if (a->json) {
        json_t *doc = lab_json_head(a);
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o}", "devices", JU(r.devices), "digits", JU(r.digits),
                               "candidates", J17(pow(10.0, r.digits))));
        lab_jadd(doc, lab_pack("{s:{s:i, s:o, s:o, s:o}, s:{s:i, s:o, s:o, s:o}}", "device_kdf",
                               "log_n", r.device_kdf.log_n, "r", JU(r.device_kdf.r), "p",
                               JU(r.device_kdf.p), "ms_per_try", J6(r.device_kdf.ms_per_try),
                               "calibrated", "log_n", r.calibrated.log_n, "r", JU(r.calibrated.r),
                               "p", JU(r.calibrated.p), "ms_per_try", J6(r.calibrated.ms_per_try)));
        lab_jadd(doc,
                 lab_pack("{s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:b}, s:{s:o, s:o}}",
                          "vendor", "opened", JU(r.vendor_opened), "bricked", JU(r.bricked),
                          "first_seconds", J6(r.vendor_first_seconds), "all_seconds",
                          J6(r.vendor_all_seconds), "decrypt_seconds", J6(r.vendor_decrypt_seconds),
                          "brute_force", "tries", JU(r.brute_tries), "seconds", J6(r.brute_seconds),
                          "found", r.brute_found, "blast_radius", "one_passcode",
                          JU(r.opened_by_one_passcode), "vendor_key", JU(r.opened_by_vendor_key)));
        json_t *rows = lab_pack(
            "[{s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o},"
            " {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o, s:o},"
            " {s:s, s:s, s:b, s:o}]",
            "method", "vendor-key", "target", "one", "measured", 1, "seconds",
            J6(r.vendor_first_seconds), "method", "vendor-key", "target", "all", "measured", 1,
            "seconds", J6(r.vendor_all_seconds), "method", "vendor-key-real-device", "target",
            "one", "measured", 0, "seconds", J6(r.vendor_one_real), "method",
            "vendor-key-real-device", "target", "all", "measured", 0, "seconds",
            J6(r.vendor_all_real), "method", "brute-force", "target", "one", "measured", 1,
            "seconds", J6(r.brute_seconds), "method", "brute-force-real-device", "target", "one",
            "measured", 0, "seconds", J6(r.brute_one_average), "seconds_worst",
            J6(r.brute_one_worst), "method", "brute-force-real-device", "target", "all", "measured",
            0, "seconds", J6(r.brute_all_average));
        json_object_set_new(doc, "rows", rows);
        return lab_json_print(doc, a->name);
    }
    printf("Ozzie's CLEAR: one vendor key for every device\n\n"
           "History: Ray Ozzie's CLEAR (2018): the device encrypts its passcode to the\n"
           "vendor's public key; under a warrant, with physical possession, the vendor\n"
           "decrypts it and the device is bricked. Critics (Matthew Green, Steven\n"
           "Bellovin, Eran Tromer) said it is a master key for every device, whose theft\n"
           "cannot be detected.\n\n"
           "Here: %u phone-like devices of the passcode lab (a %u-digit PIN entangled with\n"
           "a device secret through scrypt, erase after 10 failures), each with its PIN\n"
           "encrypted to one vendor X25519 key with the vault.\n\n",
           r.devices, r.digits);
    printf("%-48s %14s %14s\n", "", "one device", "all devices");
    printf("%-48s %14s %14s\n", "vendor key (measured, classroom devices)",
           H(r.vendor_first_seconds), H(r.vendor_all_seconds));
    printf("%-48s %14s %14s\n", "vendor key, at ~80 ms a try (extrapolated)", H(r.vendor_one_real),
           H(r.vendor_all_real));
    printf("%-48s %14s %14s\n", "brute force (measured, classroom devices)", H(r.brute_seconds),
           "-");
    printf("%-48s %14s %14s\n", "brute force, at ~80 ms a try (extrapolated)",
           H(r.brute_one_average), H(r.brute_all_average));
    printf("\nThe classroom devices cost %.3f ms a try (scrypt N=2^%d, r=%u); a real one\n"
           "about 80 ms (calibrated here: %.1f ms). The vendor's part, decrypting one\n"
           "passcode, took %s. The brute force found the PIN after %llu tries; every PIN\n"
           "takes %s at 80 ms a try, %s for half of them on average.\n\n",
           r.device_kdf.ms_per_try, r.device_kdf.log_n, r.device_kdf.r, r.calibrated.ms_per_try,
           H(r.vendor_decrypt_seconds), (unsigned long long)r.brute_tries, H(r.brute_one_worst),
           H(r.brute_one_average));
    printf("Blast radius: one device's passcode opened %zu of %u devices; the vendor key\n"
           "opened %zu of %u (%zu bricked, as the design wants). The passcode's retry limit,\n"
           "which the passcode lab shows is what protects a phone, does not apply to the\n"
           "vendor: one try per device. Whoever copies the vendor key opens every device\n"
           "they can hold, and nothing tells the vendor that its key was used.\n",
           r.opened_by_one_passcode, r.devices, r.opened_by_vendor_key, r.devices, r.bricked);
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ substitution */

int lab_subst(lab_args *a) {
    dm_lab_subst_opts o = {.files = (unsigned)a->files, .dir = a->dir};
    dm_lab_subst_result r;
    int err = dm_lab_subst(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab substitution");
    const bool have_age = dm_lab_age_available();
    char self[4096], key[4096], msg[4096], out[4096], file[4096], genuine[4096], swapped[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab substitution");
    snprintf(key, sizeof key, "%s/receiver.key", a->dir);
    snprintf(msg, sizeof msg, "%s/message-0001.txt", a->dir);
    snprintf(out, sizeof out, "%s/outside-check.txt", a->dir);
    snprintf(file, sizeof file, "%s/files/message-0001.age", a->dir);
    snprintf(genuine, sizeof genuine, "%s/genuine/authority.pub", a->dir);
    snprintf(swapped, sizeof swapped, "%s/swapped.pub", a->dir);
    /* The receivers as separate processes, on the first file. */
    int age_exit = -1;
    bool age_same = false;
    if (have_age)
        age_exit = dm_lab_age_decrypt(key, file, msg, out, &age_same);
    int swapped_exit = dm_lab_cmd_decrypt(self, key, swapped, 0, file, NULL, NULL);
    int genuine_exit = dm_lab_cmd_decrypt(self, key, genuine, 0, file, NULL, NULL);
    if (swapped_exit != 0 || genuine_exit != DM_EXIT_POLICY || (have_age && !age_same))
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "unexpected outcome: require-escrow exits %d (swapped) and %d "
                                "(genuine), age %d",
                                swapped_exit, genuine_exit, age_exit),
                        "lab substitution");
    if (a->json) {
        json_t *doc = lab_json_head(a), *rows = json_array();
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o, s:o, s:b, s:s, s:s, s:o, s:o, s:b, s:b}", "files",
                               JU(r.files), "attacker_opened", JU(r.attacker_opened),
                               "genuine_opened", JU(r.genuine_opened), "attacker_seconds",
                               J6(r.attacker_seconds), "same_name", r.same_name, "genuine_id",
                               r.genuine_id, "swapped_id", r.swapped_id, "pinned_exposed",
                               JU(r.pinned_exposed), "logged_exposed", JU(r.logged_exposed),
                               "genuine_in_log", r.genuine_in_log, "age_available", have_age));
        for (int k = 0; k < DM_LAB_SUBST_N_RECEIVERS; k++)
            json_array_append_new(rows,
                                  lab_pack("{s:s, s:o, s:o, s:b}", "client", dm_lab_subst_names[k],
                                           "accepted", JU(r.accepted[k]), "refused",
                                           JU(r.refused[k]), "notices", r.refused[k] == r.files));
        lab_jadd(doc, lab_pack("{s:o, s:i, s:i, s:o}", "age_exit",
                               have_age ? json_integer(age_exit) : json_null(),
                               "require_escrow_swapped_exit", swapped_exit,
                               "require_escrow_genuine_exit", genuine_exit, "rows", rows));
        return lab_json_print(doc, a->name);
    }
    printf("The swapped authority\n\n"
           "History: PGP 5.5.x to 6.5.3 honoured Additional Decryption Keys placed in the\n"
           "unsigned part of a public key, so anyone could add a decryption key to someone\n"
           "else's key (Ralf Senderek, August 2000; CERT VU#747124, October 2000).\n\n"
           "Here a sender's authority.pub is swapped, as a tampered update would do, for one\n"
           "with the same name (FBI), agents (doj, court, vendor) and threshold (2 of 3),\n"
           "whose agents are the attacker's. The sender then writes %zu files.\n\n",
           r.files);
    printf("The attacker's agents, without any warrant, opened %zu of %zu files (%s);\n"
           "the genuine FBI's agents opened %zu.\n\n",
           r.attacker_opened, r.files, H(r.attacker_seconds), r.genuine_opened);
    static const char *const labels[DM_LAB_SUBST_N_RECEIVERS] = {
        "plain age / doormat decrypt", "compliant client, swapped authority.pub",
        "compliant client, genuine authority.pub", "sender pinning the genuine id",
        "sender wanting it in the witnessed log"};
    printf("%-42s %9s %9s   %s\n", "who", "accepted", "refused", "notices?");
    for (int k = 0; k < DM_LAB_SUBST_N_RECEIVERS; k++)
        printf("%-42s %9zu %9zu   %s\n", labels[k], r.accepted[k], r.refused[k],
               r.refused[k] == r.files ? "yes" : "no");
    printf("\nAs separate processes, on the first file:\n"
           "  age -d                                       %s\n"
           "  doormat decrypt --require-escrow swapped.pub  exit %d\n"
           "  doormat decrypt --require-escrow genuine/authority.pub  exit %d\n\n"
           "The two authorities differ only in their ids:\n"
           "  genuine %s\n  swapped %s\n"
           "Whoever checks the escrow against the genuine authority notices; a sender\n"
           "whose client pins the genuine id refuses to send (%zu files exposed), and so\n"
           "does one that accepts only an authority file published in a transparency log\n"
           "whose checkpoint a witness cosigned (%zu exposed: the swapped file is not the\n"
           "logged entry; the genuine one's receipt %s). A name on a key is not a key.\n",
           have_age ? (age_same ? "exit 0, the message" : "failed") : "(age not installed)",
           swapped_exit, genuine_exit, r.genuine_id, r.swapped_id, r.pinned_exposed,
           r.logged_exposed, r.genuine_in_log ? "verifies" : "does NOT verify");
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ retroactive */

int lab_retro(lab_args *a) {
    dm_lab_retro_opts o = {.files = (unsigned)a->files, .file_bytes = a->bytes, .dir = a->dir};
    dm_lab_retro_result r;
    int err = dm_lab_retro(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab retroactive");
    /* The same through the real command, as separate processes: doormat rekey
     * --escrow on the first archived file, then the compliant check on both. */
    char self[4096], key[4096], pub[4096], old[4096], out[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab retroactive");
    snprintf(key, sizeof key, "%s/user.key", a->dir);
    snprintf(pub, sizeof pub, "%s/authority/authority.pub", a->dir);
    snprintf(old, sizeof old, "%s/archive/file-0001.age", a->dir);
    snprintf(out, sizeof out, "%s/rekeyed-by-command.age", a->dir);
    int rekey_exit = dm_lab_cmd_rekey_escrow(self, key, r.user_recipient, pub, old, out);
    int new_exit = rekey_exit == 0 ? dm_lab_cmd_decrypt(self, key, pub, 0, out, NULL, NULL) : -1;
    int old_exit = dm_lab_cmd_decrypt(self, key, pub, 0, old, NULL, NULL);
    if (rekey_exit != 0 || new_exit != 0 || old_exit != DM_EXIT_POLICY)
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "unexpected outcome: rekey exit %d, require-escrow %d (rekeyed) "
                                "and %d (archived)",
                                rekey_exit, new_exit, old_exit),
                        "lab retroactive");
    if (a->json) {
        json_t *doc = lab_json_head(a);
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "files",
                               JU(r.files), "file_bytes", JU(o.file_bytes), "archive_bytes",
                               JU(r.archive_bytes), "bytes_rewritten", JU(r.bytes_rewritten),
                               "bytes_copied", JU(r.bytes_copied), "header_bytes_before",
                               JU(r.header_bytes_before), "rewritten_share",
                               J6((double)r.bytes_rewritten / (double)r.archive_bytes), "seconds",
                               J6(r.seconds), "files_per_second", J6(r.files_per_second),
                               "payloads_identical", r.payloads_identical));
        lab_jadd(doc,
                 lab_pack("{s:o, s:o, s:o, s:i, s:i, s:i, s:[{s:s, s:o, s:i}, {s:s, s:o, s:i}]}",
                          "authority_opened_before", JU(r.authority_opened_before),
                          "authority_opened_after", JU(r.authority_opened_after),
                          "user_opened_after", JU(r.user_opened_after), "rekey_exit", rekey_exit,
                          "require_escrow_exit_before", old_exit, "require_escrow_exit_after",
                          new_exit, "rows", "archive", "before", "authority_opened",
                          JU(r.authority_opened_before), "require_escrow_exit", old_exit, "archive",
                          "after", "authority_opened", JU(r.authority_opened_after),
                          "require_escrow_exit", new_exit));
        return lab_json_print(doc, a->name);
    }
    printf("Escrow after the fact\n\n"
           "An archive of %zu vault files (%zu random bytes each), encrypted to their owner\n"
           "alone before any mandate. The owner's software holds the owner's key, so it\n"
           "can reach every file key: when a mandate arrives, it rewrites each header for\n"
           "the owner and a 2-of-3 authority (doormat rekey --escrow), and copies the\n"
           "encrypted contents as they are.\n\n",
           r.files, o.file_bytes);
    printf("%-34s %14s %14s\n", "", "before", "after");
    printf("%-34s %14zu %14zu\n", "files the authority's agents open", r.authority_opened_before,
           r.authority_opened_after);
    printf("%-34s %14s %14s\n", "doormat decrypt --require-escrow",
           old_exit == DM_EXIT_POLICY ? "exit 7" : "?", new_exit == 0 ? "exit 0" : "?");
    printf("%-34s %14s %14zu\n\n", "files the owner opens", "all", r.user_opened_after);
    printf("Rewritten: %zu files in %s, %.0f files a second.\n"
           "Header bytes written: %llu, for an archive of %llu bytes (%.3g%%);\n"
           "payload bytes copied: %llu, %s.\n\n",
           r.files, H(r.seconds), r.files_per_second, (unsigned long long)r.bytes_rewritten,
           (unsigned long long)r.archive_bytes,
           100.0 * (double)r.bytes_rewritten / (double)r.archive_bytes,
           (unsigned long long)r.bytes_copied,
           r.payloads_identical ? "byte for byte" : "changed (!)");
    printf("The cost of a retroactive mandate is the headers, not the data: a few hundred\n"
           "bytes a file, less of the archive the larger its files. A mandate can reach\n"
           "every file encrypted before it existed, wherever software holds the keys --\n"
           "and nothing in a rewritten file says when its escrow was added.\n");
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ volume */

int lab_volume(lab_args *a) {
    char self[4096];
    dm_lab_net net;
    dm_lab_volume_stats s;
    int err = lab_net_for(a, self, sizeof self, &net);
    if (!err)
        err = dm_lab_volume(a->dir, a->requests, &net, &s);
    if (err != DM_OK)
        return cli_fail(err, "lab volume");
    if (a->json) {
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (int i = 0; i < DM_LAB_VOLUME_ROWS; i++)
            json_array_append_new(
                rows, lab_pack("{s:s, s:o, s:b, s:b, s:o, s:o}", "label", s.rows[i].label,
                               "per_year", J17(s.rows[i].per_year), "cited", s.rows[i].cited,
                               "measured", 0, "service_seconds", J6(s.rows[i].service_seconds),
                               "share_of_year", J6(s.rows[i].share_of_year)));
        lab_jadd(doc, lab_pack("{s:o, s:i, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:o}", "requests",
                               JU(s.requests), "clients", 1, "seconds", J6(s.seconds),
                               "releases_per_second", J6(s.releases_per_second), "latency_ms",
                               "p50", J6(s.p50_ms), "p90", J6(s.p90_ms), "p99", J6(s.p99_ms), "max",
                               J6(s.max_ms), "rows", rows));
        return lab_json_print(doc, a->name);
    }
    printf("Request volume: is capacity a brake?\n\n"
           "History: Director Wray cited nearly 7,800 locked devices in 2017; the Washington\n"
           "Post reported on 22 May 2018 that the real number was probably 1,200 to 2,000.\n\n"
           "Here one escrow agent runs as its HTTPS service on loopback (doormat escrow\n"
           "serve) and answers %zu release requests, one after another, from the\n"
           "investigator's client (doormat escrow request's code): each a warrant checked,\n"
           "a release logged durably in the agent's transparency log, a share sealed to\n"
           "the investigator, the file key recovered and checked.\n\n",
           s.requests);
    printf("Measured: %.1f releases a second; latency %.1f ms median, %.1f ms at the 90th\n"
           "percentile, %.1f ms at the 99th, %.1f ms at most.\n\n",
           s.releases_per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms);
    printf("%-38s %12s %14s %12s\n", "volume", "devices/year", "service time", "of a year");
    for (int i = 0; i < DM_LAB_VOLUME_ROWS; i++)
        printf("%-38s %12.0f %14s %11.3g%%\n", s.rows[i].label, s.rows[i].per_year,
               H(s.rows[i].service_seconds), 100 * s.rows[i].share_of_year);
    printf("\nThe service times are computed from the measured rate (one client, one agent,\n"
           "this machine). A year of the FBI's claimed volume is minutes of one agent's\n"
           "time: capacity is no brake on use. Only the procedure -- who signs the\n"
           "warrants, who reads the logs -- and the cost per access are.\n");
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ insider */

int lab_insider(lab_args *a) {
    char self[4096];
    dm_lab_net net;
    int err = lab_net_for(a, self, sizeof self, &net);
    if (err != DM_OK)
        return cli_fail(err, "lab insider");
    dm_lab_net_procedure proc = {.net = &net};
    dm_lab_insider_opts o = {.files = (unsigned)a->files,
                             .dir = a->dir,
                             .procedure = dm_lab_net_procedure_fn,
                             .procedure_ctx = &proc};
    dm_lab_insider_result *r = malloc(sizeof *r);
    if (!r)
        return cli_fail(dm_fail(DM_ERR_NOMEM, "out of memory"), "lab insider");
    err = dm_lab_insider(&o, r);
    dm_lab_net_procedure_stop(&proc);
    /* The owner's monitor, the real command, must see what the lab counted. */
    long seen[DM_LAB_INSIDER_N];
    for (int i = 0; i < DM_LAB_INSIDER_N && !err; i++) {
        seen[i] = dm_lab_cmd_monitor(
            self, a->dir, i < DM_LAB_INSIDER_3_KEY ? "authority-1of1" : "authority-2of3",
            (const char(*)[2 * DM_FILE_ID_LEN + 1]) r->rows[i].ids, r->files);
        if (seen[i] != (long)r->rows[i].monitor_saw)
            err = dm_fail(DM_ERR_INTERNAL,
                          "doormat escrow monitor saw %ld files of row %d, the lab counted %zu",
                          seen[i], i, r->rows[i].monitor_saw);
    }
    if (err != DM_OK) {
        free(r);
        return cli_fail(err, "lab insider");
    }
    if (a->json) {
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (int i = 0; i < DM_LAB_INSIDER_N; i++) {
            const dm_lab_insider_row *w = &r->rows[i];
            json_array_append_new(
                rows, lab_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "authority",
                               dm_lab_insider_authority[i], "path", dm_lab_insider_path[i],
                               "accesses", JU(w->accesses), "opened", JU(w->opened), "monitor_saw",
                               JU(w->monitor_saw), "log_entries", JU(w->log_entries), "seconds",
                               J6(w->seconds), "monitor_command_saw", (json_int_t)seen[i]));
        }
        lab_jadd(doc, lab_pack("{s:o, s:o}", "files", JU(r->files), "rows", rows));
        free(r);
        return lab_json_print(doc, a->name);
    }
    printf("The insider, and what the log sees\n\n"
           "Two authorities whose agents run as HTTPS services on this machine (doormat\n"
           "escrow serve) and log every release in their transparency logs: one master key\n"
           "(1-of-1), and 2 of 3 agents. The owner runs a monitor over the logs (doormat\n"
           "escrow monitor). An insider at an agency goes\n"
           "after %zu of the owner's files per row: through the procedure (a warrant and\n"
           "a logged release by each agent needed), or with agents' key files directly.\n\n",
           r->files);
    static const char *const labels[DM_LAB_INSIDER_N] = {
        "1-of-1, the master key file", "1-of-1, through the procedure",
        "2-of-3, one agent's key file", "2-of-3, two agents' key files",
        "2-of-3, through the procedure"};
    printf("%-32s %8s %8s %14s %12s\n", "insider", "tried", "opened", "monitor saw", "log entries");
    for (int i = 0; i < DM_LAB_INSIDER_N; i++) {
        const dm_lab_insider_row *w = &r->rows[i];
        printf("%-32s %8zu %8zu %14zu %12zu\n", labels[i], w->accesses, w->opened, w->monitor_saw,
               w->log_entries);
    }
    printf("\nThe log sees the procedure, not the key: every file opened through the\n"
           "procedure is in the monitor's listing (%zu and %zu), every file opened with\n"
           "key files is not (%zu and %zu opened, %zu and %zu seen). 2 of 3 raises the bar\n"
           "-- one agent's key file opened %zu -- but two colluding insiders, or one thief\n"
           "with two key files, leave no trace at all.\n",
           r->rows[1].monitor_saw, r->rows[4].monitor_saw, r->rows[0].opened, r->rows[3].opened,
           r->rows[0].monitor_saw, r->rows[3].monitor_saw, r->rows[2].opened);
    free(r);
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ unbound-id */

int lab_unbound(lab_args *a) {
    dm_lab_unbound_result r;
    int err = dm_lab_unbound(a->dir, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab unbound-id");
    if (a->json) {
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (int b = 0; b < DM_LAB_UNBOUND_N; b++) {
            const dm_lab_unbound_row *w = &r.rows[b];
            json_array_append_new(
                rows, lab_pack("{s:s, s:o, s:b, s:s?, s:s?, s:b, s:o, s:o}", "binding",
                               dm_lab_unbound_binding[b], "released", JU(w->released), "refused",
                               w->answer != DM_OK, "reason", w->answer != DM_OK ? w->reason : NULL,
                               "logged_id", w->logged_id[0] ? w->logged_id : NULL, "opens_file",
                               w->opened, "log_entries", JU(w->log_entries), "monitor_saw",
                               JU(w->monitor_saw)));
        }
        lab_jadd(doc,
                 lab_pack("{s:s, s:s, s:s, s:o, s:{s:o, s:b, s:o}}", "header_id", r.header_id,
                          "swapped_header_id", r.swapped_id, "escrow_file_id", r.escrow_id, "rows",
                          rows, "bound_warrant", "released", JU(r.bound_released), "opens_file",
                          r.bound_opened, "monitor_saw", JU(r.bound_monitor_saw)));
        return lab_json_print(doc, a->name);
    }
    const dm_lab_unbound_row *o = &r.rows[DM_LAB_UNBOUND_OLD], *n = &r.rows[DM_LAB_UNBOUND_NEW];
    printf("The log must name the file whose key a release opens\n\n"
           "The owner's g.age is escrowed to the FBI, 2 of 3 agents (doj, court, vendor).\n"
           "A requester rebuilds its header without the owner's stanza, keeping the escrow\n"
           "stanzas and the MAC line:\n"
           "  header id of g.age         %s\n"
           "  header id of the rebuild   %s\n"
           "The court, which only ever sees ids, signs a warrant for the second. doj and\n"
           "court are asked; the owner runs a monitor over their logs for g.age.\n\n",
           r.header_id, r.swapped_id);
    printf("%-30s %9s %12s %12s %12s\n", "binding", "released", "opens g.age", "log entries",
           "monitor saw");
    printf("%-30s %9zu %12s %12zu %12zu\n", "old: the header's hash", o->released,
           o->opened ? "yes" : "no", o->log_entries, o->monitor_saw);
    printf("%-30s %9zu %12s %12zu %12zu\n", "new: the file key's id", n->released,
           n->opened ? "yes" : "no", n->log_entries, n->monitor_saw);
    printf("%-30s %9zu %12s %12s %12zu\n", "new, warrant for the bound id", r.bound_released,
           r.bound_opened ? "yes" : "no", "", r.bound_monitor_saw);
    printf("\nOld: the agents named the file by the hash of the header they were sent:\n"
           "they released and logged %s, the two shares open\n"
           "g.age, and the owner's monitor, looking for %s,\n"
           "saw nothing.\n"
           "New: every escrow stanza names %s, derived from\n"
           "the file key, and its seal binds it. The agents refused:\n  %s\n"
           "and a warrant for the real id is logged where the owner looks.\n\n"
           "A designed escrow system with a careful log still had a bypass that only an\n"
           "adversarial read found.\n",
           o->logged_id, r.header_id, r.escrow_id, n->reason);
    return lab_finish(DM_EXIT_OK);
}
