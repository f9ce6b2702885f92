/* passcode: the San Bernardino iPhone (2016). Apple's iOS security guide:
 * the passcode is entangled with a key fused into the device, each attempt
 * costs about 80 ms by design, and the device can erase itself after 10
 * failures. The FBI asked for software that removed the erasure and the
 * delays and let passcodes be entered electronically. Here a device guards a
 * vault identity with a PIN entangled with its own secret through scrypt
 * calibrated to about 80 ms a try on this machine; the lab cracks it with the
 * retry limit (the device erases itself) and without it (the requested
 * software), and prices the passcode spaces from the measured try. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lab_internal.h"

const char *const dm_lab_passcode_spaces[DM_LAB_PASSCODE_ROWS] = {"4-digit PIN", "6-digit PIN",
                                                                  "6-char lowercase alphanumeric"};
const double dm_lab_passcode_candidates[DM_LAB_PASSCODE_ROWS] = {1e4, 1e6, 2176782336.0};

#define DEVICE_UID_LEN 32
#define DEVICE_SALT_LEN 16
#define KEYBAG_MAX 128

/* Lives in guarded memory as a whole: erasing it is sodium_memzero. */
struct dm_lab_device {
    uint8_t uid[DEVICE_UID_LEN]; /* the key fused into the device */
    uint8_t salt[DEVICE_SALT_LEN];
    uint8_t keybag[KEYBAG_MAX]; /* the identity, sealed under the passcode key */
    size_t keybag_len;
    dm_lab_kdf kdf;
    unsigned limit, failures;
    bool erased;
    char recipient[128];
    uint8_t *file; /* the vault file on the device (malloc'd, not secret) */
    size_t file_len;
};

/* The passcode key: scrypt(HMAC(uid, pin), salt). Without the uid -- inside
 * the device -- nobody can even start guessing. */
static int passcode_key(const dm_lab_device *d, const char *pin, uint8_t key[32]) {
    uint8_t pre[32];
    int err = dm_hmac_sha256(d->uid, sizeof d->uid, (const uint8_t *)pin, strlen(pin), pre);
    if (!err && crypto_pwhash_scryptsalsa208sha256_ll(pre, sizeof pre, d->salt, sizeof d->salt,
                                                      UINT64_C(1) << d->kdf.log_n, d->kdf.r,
                                                      d->kdf.p, key, 32) != 0)
        err = dm_fail(DM_ERR_NOMEM, "scrypt failed (out of memory?)");
    sodium_memzero(pre, sizeof pre);
    return err;
}

static int check_kdf(const dm_lab_kdf *kdf) {
    if (kdf->log_n < 1 || kdf->log_n > 22 || kdf->r < 1 || kdf->r > 64 || kdf->p < 1 || kdf->p > 16)
        return dm_fail(DM_ERR_USAGE, "scrypt setting out of range (log N %d, r %u, p %u)",
                       kdf->log_n, kdf->r, kdf->p);
    return DM_OK;
}

int dm_lab_device_new(const char *pin, const dm_lab_kdf *kdf, unsigned limit, const uint8_t *file,
                      size_t file_len, dm_lab_device **out) {
    *out = NULL;
    int err = check_kdf(kdf);
    if (err)
        return err;
    dm_lab_device *d = dm_secret_alloc(sizeof *d);
    if (!d)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memset(d, 0, sizeof *d);
    randombytes_buf(d->uid, sizeof d->uid);
    randombytes_buf(d->salt, sizeof d->salt);
    d->kdf = *kdf;
    d->limit = limit;
    char *sk = NULL, *pk = NULL;
    uint8_t *key = dm_secret_alloc(32);
    err = key ? dm_x25519_keygen(&sk, &pk) : dm_fail(DM_ERR_NOMEM, "out of memory");
    if (!err && (strlen(pk) >= sizeof d->recipient || strlen(sk) + DM_TAG_LEN > KEYBAG_MAX))
        err = dm_fail(DM_ERR_INTERNAL, "key too long");
    if (!err)
        err = passcode_key(d, pin, key);
    static const uint8_t zero_nonce[12]; /* the key is this device's, used once */
    if (!err) {
        d->keybag_len = strlen(sk) + DM_TAG_LEN;
        err = dm_aead_seal(key, zero_nonce, (const uint8_t *)sk, strlen(sk), d->keybag);
    }
    if (!err) {
        memcpy(d->recipient, pk, strlen(pk) + 1);
        if (file)
            err = dm_lab_device_set_file(d, file, file_len);
    }
    dm_secret_free(key);
    dm_secret_free(sk);
    free(pk);
    if (err) {
        dm_lab_device_free(d);
        return err;
    }
    *out = d;
    return DM_OK;
}

int dm_lab_device_set_file(dm_lab_device *d, const uint8_t *file, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(copy, file, len);
    free(d->file);
    d->file = copy;
    d->file_len = len;
    return DM_OK;
}

const char *dm_lab_device_recipient(const dm_lab_device *d) {
    return d->recipient;
}
bool dm_lab_device_erased(const dm_lab_device *d) {
    return d->erased;
}

void dm_lab_device_free(dm_lab_device *d) {
    if (!d)
        return;
    free(d->file);
    dm_secret_free(d);
}

int dm_lab_device_unlock(dm_lab_device *d, const char *pin, uint8_t **plain, size_t *plain_len) {
    *plain = NULL;
    *plain_len = 0;
    if (d->erased)
        return dm_fail(DM_ERR_DENIED, "the device erased its key after %u failed attempts",
                       d->limit);
    struct {
        uint8_t key[32];
        char sk[KEYBAG_MAX];
    } *s = dm_secret_alloc(sizeof *s);
    if (!s)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memset(s, 0, sizeof *s);
    static const uint8_t zero_nonce[12];
    int err = passcode_key(d, pin, s->key);
    if (!err &&
        dm_aead_open(s->key, zero_nonce, d->keybag, d->keybag_len, (uint8_t *)s->sk) != DM_OK) {
        d->failures++;
        if (d->limit && d->failures >= d->limit) {
            /* Really erase: without the uid and the sealed identity the file
             * is gone, whatever passcode comes next. */
            sodium_memzero(d->uid, sizeof d->uid);
            sodium_memzero(d->keybag, sizeof d->keybag);
            d->erased = true;
        }
        err = dm_fail(DM_ERR_BAD_PASSPHRASE, "wrong passcode");
    }
    if (!err) {
        d->failures = 0;
        dm_identity *id = NULL;
        err = dm_x25519_identity_parse(s->sk, &id);
        if (!err)
            err = dm_lab_decrypt(d->file, d->file_len, id, NULL, plain, plain_len, NULL);
        /* The passcode was right: a file that does not open is not a wrong guess. */
        if (err == DM_ERR_NO_MATCH)
            err = dm_fail(DM_ERR_INTERNAL, "the device's identity does not open its file");
        dm_identity_free(id);
    }
    dm_secret_free(s);
    return err;
}

int dm_lab_kdf_measure(dm_lab_kdf *kdf, unsigned runs) {
    int err = check_kdf(kdf);
    if (err)
        return err;
    uint8_t pw[32] = {1}, salt[16] = {2}, out[32];
    /* CPU time of this thread: what one try costs the device, whatever else
     * the (shared) machine is doing. */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    for (unsigned i = 0; i < runs; i++)
        if (crypto_pwhash_scryptsalsa208sha256_ll(pw, sizeof pw, salt, sizeof salt,
                                                  UINT64_C(1) << kdf->log_n, kdf->r, kdf->p, out,
                                                  sizeof out) != 0)
            return dm_fail(DM_ERR_NOMEM, "scrypt failed (out of memory?)");
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    kdf->ms_per_try = ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0) * 1000.0 / runs;
    return DM_OK;
}

int dm_lab_kdf_calibrate(double target_ms, dm_lab_kdf *out) {
    if (!(target_ms > 0) || target_ms > 10000)
        return dm_fail(DM_ERR_USAGE, "calibration target must be 0 to 10000 ms");
    /* Scale N by powers of two with r = 8, then r for the last factor. */
    dm_lab_kdf k = {.log_n = 10, .r = 8, .p = 1};
    int err = dm_lab_kdf_measure(&k, 2);
    while (!err && k.ms_per_try * 2 <= target_ms && k.log_n < 20) {
        k.log_n++;
        err = dm_lab_kdf_measure(&k, 1);
    }
    /* Cost is linear in r: two rounds of correction absorb a noisy first
     * measurement (other work on the machine). */
    for (int round = 0; round < 2 && !err; round++) {
        if (round == 0)
            err = dm_lab_kdf_measure(&k, 2);
        double r = (double)k.r * target_ms / k.ms_per_try;
        k.r = r < 1 ? 1 : r > 64 ? 64 : (uint32_t)lround(r);
        if (!err)
            err = dm_lab_kdf_measure(&k, 3);
    }
    if (!err)
        *out = k;
    return err;
}

static const char photo[] = "IMG_0412.HEIC (the file on the phone)\n";

/* A device and its file: the photo, encrypted to the identity inside it. */
static int make_device(const char *pin, const dm_lab_kdf *kdf, unsigned limit, dm_lab_device **dev,
                       dm_membuf *file) {
    dm_recipient *rc = NULL;
    int err = dm_lab_device_new(pin, kdf, limit, NULL, 0, dev);
    if (!err)
        err = dm_x25519_recipient_parse(dm_lab_device_recipient(*dev), &rc);
    if (!err)
        err = dm_lab_encrypt(&rc, 1, NULL, NULL, (const uint8_t *)photo, sizeof photo - 1, file);
    dm_recipient_free(rc);
    if (!err)
        err = dm_lab_device_set_file(*dev, file->buf, file->len);
    return err;
}

static void format_pin(char out[9], unsigned digits, uint64_t v) {
    snprintf(out, 9, "%0*llu", (int)digits, (unsigned long long)v);
}

int dm_lab_passcode(const dm_lab_passcode_opts *o, dm_lab_passcode_result *r) {
    memset(r, 0, sizeof *r);
    if (o->digits < 1 || o->digits > 8)
        return dm_fail(DM_ERR_USAGE, "passcode wants --digits 1 to 8");
    r->target_ms = o->target_ms > 0 ? o->target_ms : 80;
    r->digits = o->digits;
    r->crack_real = o->real;
    r->limit = 10;
    int err = dm_lab_kdf_calibrate(r->target_ms, &r->calibrated);
    r->fast = (dm_lab_kdf){.log_n = 6, .r = 1, .p = 1};
    if (!err)
        err = dm_lab_kdf_measure(&r->fast, 200);
    for (size_t i = 0; i < DM_LAB_PASSCODE_ROWS; i++)
        r->rows_worst[i] = dm_lab_passcode_candidates[i] * r->calibrated.ms_per_try / 1000.0;

    const uint64_t space = (uint64_t)llround(pow(10.0, o->digits));
    const dm_lab_kdf *kdf = o->real ? &r->calibrated : &r->fast;
    format_pin(r->pin, o->digits, randombytes_uniform((uint32_t)space));
    dm_lab_device *dev = NULL;
    dm_membuf file = {0};
    if (!err)
        err = make_device(r->pin, kdf, 0, &dev, &file);
    if (!err)
        err = dm_lab_write(o->dir, "device-file.age", file.buf, file.len, 0644);

    /* Without the retry limit: the software the FBI asked for. */
    double t0 = dm_lab_now();
    for (uint64_t g = 0; g < space && !err && !r->crack_found; g++) {
        char guess[9];
        format_pin(guess, o->digits, g);
        uint8_t *plain = NULL;
        size_t plen = 0;
        int e = dm_lab_device_unlock(dev, guess, &plain, &plen);
        r->crack_tries++;
        if (e == DM_OK) {
            r->crack_found = strcmp(guess, r->pin) == 0 &&
                             dm_lab_same(plain, plen, (const uint8_t *)photo, sizeof photo - 1);
            if (!r->crack_found)
                err =
                    dm_fail(DM_ERR_INTERNAL, "PIN %s unlocked the device to the wrong file", guess);
        } else if (e != DM_ERR_BAD_PASSPHRASE) {
            err = e;
        }
        free(plain);
    }
    r->crack_seconds = dm_lab_now() - t0;
    if (!err && !r->crack_found)
        err = dm_fail(DM_ERR_INTERNAL, "the PIN was not found in the whole space");
    dm_lab_device_free(dev);
    dev = NULL;

    /* With it: the same attack, against a device (its own secret, identity
     * and file) that erases itself. */
    free(file.buf);
    memset(&file, 0, sizeof file);
    if (!err)
        err = make_device(r->pin, kdf, r->limit, &dev, &file);
    for (uint64_t g = 0; g < space && !err && !r->limited_found; g++) {
        char guess[9];
        format_pin(guess, o->digits, g);
        uint8_t *plain = NULL;
        size_t plen = 0;
        int e = dm_lab_device_unlock(dev, guess, &plain, &plen);
        bool opened = e == DM_OK && strcmp(guess, r->pin) == 0 &&
                      dm_lab_same(plain, plen, (const uint8_t *)photo, sizeof photo - 1);
        free(plain);
        if (e == DM_ERR_DENIED)
            break;
        r->limited_tries++;
        if (opened)
            r->limited_found = true;
        else if (e == DM_OK)
            err = dm_fail(DM_ERR_INTERNAL, "PIN %s unlocked the device to the wrong file", guess);
        else if (e != DM_ERR_BAD_PASSPHRASE)
            err = e;
    }
    if (!err) {
        r->erased = dm_lab_device_erased(dev);
        if (r->erased) {
            uint8_t *plain = NULL;
            size_t plen = 0;
            r->correct_pin_after_erase_fails =
                dm_lab_device_unlock(dev, r->pin, &plain, &plen) == DM_ERR_DENIED;
            free(plain);
            if (!r->correct_pin_after_erase_fails)
                err = dm_fail(DM_ERR_INTERNAL, "the erased device still opened");
        }
    }
    dm_lab_device_free(dev);
    free(file.buf);
    return err;
}
