/* FMI 2.0 Co-Simulation entry points over model.h. */
#include <stdlib.h>

#include "glue_common.h"
#include "twin/fmu/fmi_c.h"

#ifndef MODEL_TOKEN
#error "MODEL_TOKEN (the GUID) must be defined"
#endif

typedef struct {
  glue g; /* first */
  fmi2CallbackFunctions cb;
  char name[64];
  double start_time;
} instance;

static void log_message(glue* g, model_status s, const char* category) {
  instance* c = (instance*)g;
  if (c->cb.logger)
    c->cb.logger(c->cb.componentEnvironment, c->name, (fmi2Status)s, category, "%s",
                 g->m.message);
}

FMI_EXPORT const char* fmi2GetVersion(void) { return "2.0"; }
FMI_EXPORT const char* fmi2GetTypesPlatform(void) { return "default"; }

FMI_EXPORT fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType,
                                         fmi2String fmuGUID, fmi2String fmuResourceLocation,
                                         const fmi2CallbackFunctions* functions,
                                         fmi2Boolean visible, fmi2Boolean loggingOn) {
  (void)fmuResourceLocation; (void)visible; (void)loggingOn;
  if (!functions)
    return NULL;
  if (fmuType != fmi2CoSimulation || !fmuGUID || strcmp(fmuGUID, MODEL_TOKEN) != 0) {
    if (functions->logger)
      functions->logger(functions->componentEnvironment, instanceName, fmi2Error,
                        "logStatusError", "%s",
                        fmuType != fmi2CoSimulation ? "only Co-Simulation is supported"
                                                    : "GUID does not match the model description");
    return NULL;
  }
  instance* c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->cb = *functions;
  snprintf(c->name, sizeof c->name, "%s", instanceName ? instanceName : "");
  glue_init(&c->g, log_message);
  return c;
}

FMI_EXPORT void fmi2FreeInstance(fmi2Component inst) { free(inst); }

FMI_EXPORT fmi2Status fmi2SetupExperiment(fmi2Component inst, fmi2Boolean toleranceDefined,
                                          fmi2Real tolerance, fmi2Real startTime,
                                          fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
  (void)toleranceDefined; (void)tolerance; (void)stopTimeDefined; (void)stopTime;
  instance* c = inst;
  if (c->g.state != st_instantiated)
    return glue_fail(&c->g, "fmi2SetupExperiment called in the wrong state");
  c->start_time = startTime;
  return fmi2OK;
}

FMI_EXPORT fmi2Status fmi2EnterInitializationMode(fmi2Component inst) {
  instance* c = inst;
  return glue_enter_initialization(&c->g, "fmi2EnterInitializationMode", c->start_time);
}

FMI_EXPORT fmi2Status fmi2ExitInitializationMode(fmi2Component inst) {
  return glue_exit_initialization(inst, "fmi2ExitInitializationMode");
}

FMI_EXPORT fmi2Status fmi2Terminate(fmi2Component inst) {
  ((glue*)inst)->state = st_terminated;
  return fmi2OK;
}

FMI_EXPORT fmi2Status fmi2Reset(fmi2Component inst) {
  glue* g = inst;
  memset(&g->m, 0, sizeof g->m);
  model_defaults(&g->m);
  g->state = st_instantiated;
  return fmi2OK;
}

FMI_EXPORT fmi2Status fmi2DoStep(fmi2Component inst, fmi2Real currentCommunicationPoint,
                                 fmi2Real communicationStepSize,
                                 fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
  (void)noSetFMUStatePriorToCurrentPoint;
  return glue_do_step(inst, "fmi2DoStep", currentCommunicationPoint, communicationStepSize);
}

#define GETSET(Name, CType, ref, conv_in, conv_out)                                          \
  FMI_EXPORT fmi2Status fmi2Get##Name(fmi2Component inst, const fmi2ValueReference vr[],     \
                                      size_t nvr, CType values[]) {                          \
    GLUE_EACH_VARIABLE((glue*)inst, "fmi2Get" #Name, ref, conv_out)                          \
    return fmi2OK;                                                                           \
  }                                                                                          \
  FMI_EXPORT fmi2Status fmi2Set##Name(fmi2Component inst, const fmi2ValueReference vr[],     \
                                      size_t nvr, const CType values[]) {                    \
    GLUE_EACH_VARIABLE((glue*)inst, "fmi2Set" #Name, ref, conv_in)                           \
    return fmi2OK;                                                                           \
  }

GETSET(Real, fmi2Real, ref_real, *(double*)p = values[k], values[k] = *(double*)p)
GETSET(Integer, fmi2Integer, ref_int, *(int32_t*)p = values[k], values[k] = *(int32_t*)p)
GETSET(Boolean, fmi2Boolean, ref_bool, *(bool*)p = values[k] != fmi2False,
       values[k] = *(bool*)p ? fmi2True : fmi2False)
GETSET(String, fmi2String, ref_string, set_string((char*)p, values[k]), values[k] = (char*)p)
