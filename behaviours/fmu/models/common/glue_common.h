/* Shared by fmi3_glue.c and fmi2_glue.c: the instance core (model, state,
 * time), its error reporting and state machine, the common part of the
 * entry points, and bounds-checked access by value reference. The entry
 * points themselves differ per FMI version and stay in the glue files. */
#ifndef TWIN_FMU_GLUE_COMMON_H
#define TWIN_FMU_GLUE_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

#define FMI_EXPORT __attribute__((visibility("default")))

typedef enum { st_instantiated, st_init, st_step, st_terminated, st_failed } state_t;

typedef struct glue glue;

/* Passes g->m.message on to the FMI version's logger (if any), with the
 * status and its category ("logStatusWarning" / "logStatusError"). */
typedef void (*glue_log_fn)(glue* g, model_status s, const char* category);

/* The first member of each glue's instance (so the logger can find the
 * rest). Return values below are model_status values, which equal
 * fmi3Status and fmi2Status (OK, Warning, Discard, Error, Fatal). */
struct glue {
  model m;
  state_t state;
  double time;
  glue_log_fn log;
};

static void glue_init(glue* g, glue_log_fn log) {
  g->log = log;
  model_defaults(&g->m);
}

/* Logs a non-OK status; Error and Fatal make the instance failed. */
static int glue_report(glue* g, model_status s) {
  if (s != model_ok)
    g->log(g, s, s == model_warning ? "logStatusWarning" : "logStatusError");
  if (s >= model_error)
    g->state = st_failed;
  return (int)s;
}

static int glue_fail(glue* g, const char* what) {
  snprintf(g->m.message, sizeof g->m.message, "%s", what);
  return glue_report(g, model_error);
}

/* fmiXEnterInitializationMode (`fn` names it): time starts at `start`. */
static int glue_enter_initialization(glue* g, const char* fn, double start) {
  if (g->state != st_instantiated) {
    snprintf(g->m.message, sizeof g->m.message, "%s called in the wrong state", fn);
    return glue_report(g, model_error);
  }
  g->time = start;
  g->m.r[0] = start;
  g->state = st_init;
  return model_ok;
}

/* fmiXExitInitializationMode: the model checks its parameters. */
static int glue_exit_initialization(glue* g, const char* fn) {
  if (g->state != st_init) {
    snprintf(g->m.message, sizeof g->m.message, "%s called in the wrong state", fn);
    return glue_report(g, model_error);
  }
  g->state = st_step;
  return glue_report(g, model_initialize(&g->m));
}

/* fmiXDoStep from t by h; time advances unless the model failed. */
static int glue_do_step(glue* g, const char* fn, double t, double h) {
  if (g->state != st_step) {
    snprintf(g->m.message, sizeof g->m.message, "%s called outside step mode", fn);
    return glue_report(g, model_error);
  }
  if (!(h > 0))
    return glue_fail(g, "communicationStepSize must be > 0");
  model_status s = model_step(&g->m, t, h);
  if (s <= model_warning) {
    g->time = t + h;
    g->m.r[0] = g->time;
  }
  return glue_report(g, s);
}

static double* ref_real(model* m, uint32_t vr) {
  return vr < (uint32_t)model_n_real ? &m->r[vr] : NULL;
}
static int32_t* ref_int(model* m, uint32_t vr) {
  return vr >= VR_INT && vr - VR_INT < (uint32_t)model_n_int ? &m->i[vr - VR_INT] : NULL;
}
static bool* ref_bool(model* m, uint32_t vr) {
  return vr >= VR_BOOL && vr - VR_BOOL < (uint32_t)model_n_bool ? &m->b[vr - VR_BOOL] : NULL;
}
static char* ref_string(model* m, uint32_t vr) {
  return vr >= VR_STRING && vr - VR_STRING < (uint32_t)model_n_string ? m->s[vr - VR_STRING]
                                                                       : NULL;
}
static void set_string(char* dst, const char* src) {
  snprintf(dst, MODEL_STRING_LEN, "%s", src ? src : "");
}

/* The loop of an fmiXGet / fmiXSet entry point (named `fn`): for each of
 * vr[0..nvr), `p` is the variable (or the call fails), then `conv` runs. */
#define GLUE_EACH_VARIABLE(g, fn, ref, conv)                                                 \
  for (size_t k = 0; k < nvr; ++k) {                                                         \
    void* p = ref(&(g)->m, vr[k]);                                                           \
    if (!p)                                                                                  \
      return glue_fail((g), fn ": unknown value reference");                                 \
    conv;                                                                                    \
  }

#endif
