/* The compiled core's threads (ext/_threads.pxi): a mutex, two condition variables and
   thread start/join, on POSIX threads or on none. */
#ifndef CL_THREADS_H
#define CL_THREADS_H

/* A mutex with two condition variables (work published, a piece done) and threads: POSIX
   threads where there are any; elsewhere, or built with -DCL_NO_THREADS, none (the scan
   runs on one thread). */
#if !defined(CL_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#include <signal.h>
#define CL_THREADS 1
typedef struct { pthread_mutex_t mu; pthread_cond_t work, done; } cl_sync;
typedef struct { pthread_t th; } cl_thread;
static int cl_sync_init(cl_sync *s) {
    if (pthread_mutex_init(&s->mu, NULL)) return -1;
    if (pthread_cond_init(&s->work, NULL)) { pthread_mutex_destroy(&s->mu); return -1; }
    if (pthread_cond_init(&s->done, NULL)) {
        pthread_cond_destroy(&s->work); pthread_mutex_destroy(&s->mu); return -1;
    }
    return 0;
}
static void cl_sync_destroy(cl_sync *s) {
    pthread_cond_destroy(&s->done); pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
}
static void cl_lock(cl_sync *s) { pthread_mutex_lock(&s->mu); }
static void cl_unlock(cl_sync *s) { pthread_mutex_unlock(&s->mu); }
static void cl_wait_work(cl_sync *s) { pthread_cond_wait(&s->work, &s->mu); }
static void cl_wait_done(cl_sync *s) { pthread_cond_wait(&s->done, &s->mu); }
static void cl_wake_workers(cl_sync *s) { pthread_cond_broadcast(&s->work); }
static void cl_wake_main(cl_sync *s) { pthread_cond_signal(&s->done); }
/* Workers never run Python code: they start with every signal blocked, so that signals
   go to the threads that do (Python handles them in the main thread anyway). */
static int cl_thread_start(cl_thread *t, void *(*fn)(void *), void *arg) {
    sigset_t all, old;
    int rc;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t->th, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
static void cl_thread_join(cl_thread *t) { pthread_join(t->th, NULL); }
#else
#define CL_THREADS 0
typedef struct { int unused; } cl_sync;
typedef struct { int unused; } cl_thread;
static int cl_sync_init(cl_sync *s) { (void)s; return 0; }
static void cl_sync_destroy(cl_sync *s) { (void)s; }
static void cl_lock(cl_sync *s) { (void)s; }
static void cl_unlock(cl_sync *s) { (void)s; }
static void cl_wait_work(cl_sync *s) { (void)s; }
static void cl_wait_done(cl_sync *s) { (void)s; }
static void cl_wake_workers(cl_sync *s) { (void)s; }
static void cl_wake_main(cl_sync *s) { (void)s; }
static int cl_thread_start(cl_thread *t, void *(*fn)(void *), void *arg) {
    (void)t; (void)fn; (void)arg; return -1;
}
static void cl_thread_join(cl_thread *t) { (void)t; }
#endif

#endif /* CL_THREADS_H */
