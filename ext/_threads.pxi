# The worker threads: they take pieces off the queue (Shared in _decls.pxd) and check them,
# with no Python. Part of ext/_core.pyx (included).

cdef inline Py_ssize_t claim(Shared *sh, int t) noexcept nogil:
    """The next piece thread ``t`` checks, or -1 for none yet (sh.sync is held)."""
    cdef Py_ssize_t i
    if sh.static_sched:
        i = sh.cursor[t]
        if i < sh.npub:
            sh.cursor[t] = i + sh.nthreads
            return i
        return -1
    if sh.nclaim < sh.npub:
        i = sh.nclaim
        sh.nclaim += 1
        return i
    return -1


cdef void *worker_main(void *arg) noexcept nogil:
    """A worker thread: check pieces as they come until told to quit. No Python here."""
    cdef WorkerArg *wa = <WorkerArg *>arg
    cdef Shared *sh = wa.sh
    cdef Ctx *c = wa.ctx
    cdef Piece *pc
    cdef Py_ssize_t i
    cl_lock(&sh.sync)
    while not sh.quit:
        i = claim(sh, c.id)
        if i < 0:
            cl_wait_work(&sh.sync)
            continue
        pc = &sh.pieces[i % sh.qcap]
        cl_unlock(&sh.sync)
        process_piece(c, pc)
        cl_lock(&sh.sync)
        pc.done = True
        cl_wake_main(&sh.sync)
    cl_unlock(&sh.sync)
    return NULL
