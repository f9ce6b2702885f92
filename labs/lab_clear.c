/* clear: Ray Ozzie's CLEAR (2018). Each device encrypts its passcode to the
 * vendor's public key; under a warrant, with the device in hand, the vendor
 * decrypts the passcode from the device's recovery screen, and the device
 * bricks itself. Critics (Matthew Green, Steven Bellovin, Eran Tromer) said
 * the vendor's key is a master key for every device, whose theft cannot be
 * detected. The devices here are the passcode lab's (a PIN entangled with a
 * device secret through scrypt, erase after 10 failures), each with its
 * passcode encrypted to a vendor X25519 key with the real vault. The lab opens
 * one device and all of them with the vendor key, brute-forces one the way
 * the passcode lab does, and compares the two at the cost of a real device's
 * try (~80 ms, calibrated here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

typedef struct device {
    dm_lab_device *dev;
    dm_membuf escrow; /* the passcode, encrypted to the vendor: shown in recovery mode */
    char pin[9];
    char photo[64];
    bool bricked;
} device;

static void pin_of(char out[9], unsigned digits, uint64_t v) {
    snprintf(out, 9, "%0*llu", (int)digits, (unsigned long long)v);
}

/* A device with a random PIN, its photo encrypted to the identity inside it,
 * and the PIN encrypted to the vendor. */
static int make_device(device *d, unsigned i, unsigned digits, uint64_t space,
                       const dm_lab_kdf *kdf, unsigned limit, dm_recipient *vendor) {
    pin_of(d->pin, digits, randombytes_uniform((uint32_t)space));
    snprintf(d->photo, sizeof d->photo, "IMG_%04u.HEIC on device %u\n", 1000 + i, i + 1);
    dm_recipient *rc = NULL;
    dm_membuf file = {0};
    int err = dm_lab_device_new(d->pin, kdf, limit, NULL, 0, &d->dev);
    if (!err)
        err = dm_x25519_recipient_parse(dm_lab_device_recipient(d->dev), &rc);
    if (!err)
        err =
            dm_lab_encrypt(&rc, 1, NULL, NULL, (const uint8_t *)d->photo, strlen(d->photo), &file);
    if (!err)
        err = dm_lab_device_set_file(d->dev, file.buf, file.len);
    if (!err && vendor)
        err = dm_lab_encrypt(&vendor, 1, NULL, NULL, (const uint8_t *)d->pin, strlen(d->pin),
                             &d->escrow);
    dm_recipient_free(rc);
    free(file.buf);
    return err;
}

/* Unlocks with pin: *opened when the device gave its photo. */
static int try_pin(device *d, const char *pin, bool *opened) {
    uint8_t *plain = NULL;
    size_t plen = 0;
    int err = dm_lab_device_unlock(d->dev, pin, &plain, &plen);
    *opened = err == DM_OK && dm_lab_same(plain, plen, (const uint8_t *)d->photo, strlen(d->photo));
    free(plain);
    if (err == DM_OK && !*opened)
        return dm_fail(DM_ERR_INTERNAL, "a device opened to the wrong file");
    return dm_lab_refused(err) ? DM_OK : err;
}

/* The vendor's part: the recovery screen (the device bricks itself), the
 * passcode decrypted with the vendor key, the device opened with it. */
static int vendor_open(device *d, dm_identity *vendor, double *decrypt_seconds, bool *opened) {
    d->bricked = true;
    uint8_t *pin = NULL;
    size_t len = 0;
    double t0 = dm_lab_now();
    int err = dm_lab_decrypt(d->escrow.buf, d->escrow.len, vendor, NULL, &pin, &len, NULL);
    *decrypt_seconds += dm_lab_now() - t0;
    char text[9] = {0};
    if (!err && (len == 0 || len >= sizeof text))
        err = dm_fail(DM_ERR_INTERNAL, "the escrowed passcode has %zu bytes", len);
    if (!err)
        memcpy(text, pin, len);
    if (pin)
        sodium_memzero(pin, len);
    free(pin);
    if (!err)
        err = try_pin(d, text, opened);
    sodium_memzero(text, sizeof text);
    return err;
}

int dm_lab_clear(const dm_lab_clear_opts *o, dm_lab_clear_result *r) {
    memset(r, 0, sizeof *r);
    if (o->devices < 1 || o->devices > 100000 || o->digits < 1 || o->digits > 8)
        return dm_fail(DM_ERR_USAGE, "clear wants 1 to 100000 devices and 1 to 8 digits");
    r->devices = o->devices;
    r->digits = o->digits;
    const uint64_t space = (uint64_t)llround(pow(10.0, o->digits));
    r->device_kdf = (dm_lab_kdf){.log_n = 6, .r = 1, .p = 1};
    int err = dm_lab_kdf_measure(&r->device_kdf, 200);
    if (!err)
        err = dm_lab_kdf_calibrate(80, &r->calibrated);

    char *vsk = NULL, *vpk = NULL;
    dm_recipient *vendor_rc = NULL;
    dm_identity *vendor_id = NULL;
    device *devs = calloc(o->devices, sizeof *devs);
    device lone = {0};
    if (!devs)
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err)
        err = dm_lab_key_pair(o->dir, "vendor.key", &vsk, &vpk, &vendor_rc, &vendor_id);
    if (!err)
        err = dm_lab_mkdir(o->dir, "devices");
    for (unsigned i = 0; i < o->devices && !err; i++) {
        /* Like a phone: erase after 10 failures. */
        err = make_device(&devs[i], i, o->digits, space, &r->device_kdf, 10, vendor_rc);
        char name[64];
        snprintf(name, sizeof name, "devices/device-%04u-passcode.age", i + 1);
        if (!err)
            err = dm_lab_write(o->dir, name, devs[i].escrow.buf, devs[i].escrow.len, 0644);
    }

    /* One device's own passcode, tried once on every device. */
    for (unsigned i = 0; i < o->devices && !err; i++) {
        bool opened = false;
        err = try_pin(&devs[i], devs[0].pin, &opened);
        r->opened_by_one_passcode += opened;
    }

    /* The vendor key, device after device. */
    double t0 = dm_lab_now(), decrypt = 0;
    for (unsigned i = 0; i < o->devices && !err; i++) {
        bool opened = false;
        err = vendor_open(&devs[i], vendor_id, &decrypt, &opened);
        r->vendor_opened += opened;
        r->bricked += devs[i].bricked;
        if (i == 0)
            r->vendor_first_seconds = dm_lab_now() - t0;
    }
    r->vendor_all_seconds = dm_lab_now() - t0;
    r->vendor_decrypt_seconds = decrypt / o->devices;
    r->opened_by_vendor_key = r->vendor_opened;

    /* Without the vendor key: the passcode lab's brute force (no retry
     * limit: the software the FBI asked Apple for) on a device like these. */
    if (!err)
        err = make_device(&lone, o->devices, o->digits, space, &r->device_kdf, 0, NULL);
    t0 = dm_lab_now();
    for (uint64_t g = 0; g < space && !err && !r->brute_found; g++) {
        char guess[9];
        pin_of(guess, o->digits, g);
        r->brute_tries++;
        err = try_pin(&lone, guess, &r->brute_found);
    }
    r->brute_seconds = dm_lab_now() - t0;

    /* At a real device's cost of a try (calibrated, ~80 ms). */
    const double try_s = r->calibrated.ms_per_try / 1000.0;
    r->brute_one_worst = (double)space * try_s;
    r->brute_one_average = r->brute_one_worst / 2;
    r->brute_all_average = r->brute_one_average * o->devices;
    r->vendor_one_real = r->vendor_decrypt_seconds + try_s;
    r->vendor_all_real = r->vendor_one_real * o->devices;

    if (!err && !(r->vendor_opened == o->devices && r->bricked == o->devices && r->brute_found &&
                  r->opened_by_one_passcode >= 1))
        err = dm_fail(DM_ERR_INTERNAL, "the clear lab's outcomes are not what it claims");
    for (unsigned i = 0; devs && i < o->devices; i++) {
        dm_lab_device_free(devs[i].dev);
        free(devs[i].escrow.buf);
    }
    free(devs);
    dm_lab_device_free(lone.dev);
    dm_identity_free(vendor_id);
    dm_recipient_free(vendor_rc);
    dm_secret_free(vsk);
    free(vpk);
    return err;
}
