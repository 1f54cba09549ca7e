/* FMI 3.0 Co-Simulation entry points over model.h. */
#include <stdlib.h>

#include "glue_common.h"
#include "twin/fmu/fmi_c.h"

#ifndef MODEL_TOKEN
#error "MODEL_TOKEN (the instantiation token) must be defined"
#endif

typedef struct {
  glue g; /* first */
  fmi3InstanceEnvironment env;
  fmi3LogMessageCallback log;
  bool logging;
} instance;

static void log_message(glue* g, model_status s, const char* category) {
  instance* c = (instance*)g;
  if (c->log)
    c->log(c->env, (fmi3Status)s, category, g->m.message);
}

FMI_EXPORT const char* fmi3GetVersion(void) { return "3.0"; }

FMI_EXPORT fmi3Instance fmi3InstantiateCoSimulation(
  fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
  fmi3Boolean visible, fmi3Boolean loggingOn, fmi3Boolean eventModeUsed,
  fmi3Boolean earlyReturnAllowed, const fmi3ValueReference requiredIntermediateVariables[],
  size_t nRequiredIntermediateVariables, fmi3InstanceEnvironment instanceEnvironment,
  fmi3LogMessageCallback logMessage, fmi3IntermediateUpdateCallback intermediateUpdate) {
  (void)instanceName; (void)resourcePath; (void)visible; (void)earlyReturnAllowed;
  (void)requiredIntermediateVariables; (void)nRequiredIntermediateVariables;
  (void)intermediateUpdate;
  if (!instantiationToken || strcmp(instantiationToken, MODEL_TOKEN) != 0) {
    if (logMessage)
      logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                 "instantiation token does not match the model description");
    return NULL;
  }
  if (eventModeUsed) {
    if (logMessage)
      logMessage(instanceEnvironment, fmi3Error, "logStatusError", "event mode is not supported");
    return NULL;
  }
  instance* c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->env = instanceEnvironment;
  c->log = logMessage;
  c->logging = loggingOn;
  glue_init(&c->g, log_message);
  return c;
}

FMI_EXPORT void fmi3FreeInstance(fmi3Instance instance_) { free(instance_); }

FMI_EXPORT fmi3Status fmi3EnterInitializationMode(fmi3Instance inst, fmi3Boolean toleranceDefined,
                                                  fmi3Float64 tolerance, fmi3Float64 startTime,
                                                  fmi3Boolean stopTimeDefined,
                                                  fmi3Float64 stopTime) {
  (void)toleranceDefined; (void)tolerance; (void)stopTimeDefined; (void)stopTime;
  return glue_enter_initialization(inst, "fmi3EnterInitializationMode", startTime);
}

FMI_EXPORT fmi3Status fmi3ExitInitializationMode(fmi3Instance inst) {
  return glue_exit_initialization(inst, "fmi3ExitInitializationMode");
}

FMI_EXPORT fmi3Status fmi3Terminate(fmi3Instance inst) {
  ((glue*)inst)->state = st_terminated;
  return fmi3OK;
}

FMI_EXPORT fmi3Status fmi3DoStep(fmi3Instance inst, fmi3Float64 currentCommunicationPoint,
                                 fmi3Float64 communicationStepSize,
                                 fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                 fmi3Boolean* eventHandlingNeeded,
                                 fmi3Boolean* terminateSimulation, fmi3Boolean* earlyReturn,
                                 fmi3Float64* lastSuccessfulTime) {
  (void)noSetFMUStatePriorToCurrentPoint;
  glue* g = inst;
  *eventHandlingNeeded = false;
  *terminateSimulation = false;
  *earlyReturn = false;
  fmi3Status s = glue_do_step(g, "fmi3DoStep", currentCommunicationPoint, communicationStepSize);
  *lastSuccessfulTime = g->time;
  return s;
}

#define GETSET(Name, CType, ref, conv_in, conv_out)                                          \
  FMI_EXPORT fmi3Status fmi3Get##Name(fmi3Instance inst, const fmi3ValueReference vr[],      \
                                      size_t nvr, CType values[], size_t nValues) {          \
    glue* g = inst;                                                                          \
    if (nValues != nvr)                                                                      \
      return glue_fail(g, "fmi3Get" #Name ": nValues != nValueReferences");                 \
    GLUE_EACH_VARIABLE(g, "fmi3Get" #Name, ref, conv_out)                                    \
    return fmi3OK;                                                                           \
  }                                                                                          \
  FMI_EXPORT fmi3Status fmi3Set##Name(fmi3Instance inst, const fmi3ValueReference vr[],      \
                                      size_t nvr, const CType values[], size_t nValues) {    \
    glue* g = inst;                                                                          \
    if (nValues != nvr)                                                                      \
      return glue_fail(g, "fmi3Set" #Name ": nValues != nValueReferences");                 \
    GLUE_EACH_VARIABLE(g, "fmi3Set" #Name, ref, conv_in)                                     \
    return fmi3OK;                                                                           \
  }

GETSET(Float64, fmi3Float64, ref_real, *(double*)p = values[k], values[k] = *(double*)p)
GETSET(Int32, fmi3Int32, ref_int, *(int32_t*)p = values[k], values[k] = *(int32_t*)p)
GETSET(Boolean, fmi3Boolean, ref_bool, *(bool*)p = values[k], values[k] = *(bool*)p)
GETSET(String, fmi3String, ref_string, set_string((char*)p, values[k]), values[k] = (char*)p)
