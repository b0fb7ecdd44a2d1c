/*
 * kubehaus lab: a simulated libnvidia-ml.so.1.
 *
 * Serves the NVML calls kubehaus's topology probe makes from a per-machine profile file
 * (KUBEHAUS_LAB_NVML_PROFILE, default /etc/kubehaus-lab/nvml-profile) written by the lab from
 * the same hardware model as the machine's simulated sysfs. The real pynvml loads it unchanged;
 * a function not defined here raises NVMLError_FunctionNotFound there, as with an old driver.
 * Struct layouts follow pynvml.py's ctypes definitions; versioned structs are checked against
 * their version field as real NVML does.
 *
 * This is a test double, not NVIDIA software.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3, NVML_ERROR_NOT_FOUND = 6, NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9, NVML_ERROR_GPU_IS_LOST = 15, NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_VERSION_MISMATCH = 25, NVML_ERROR_UNKNOWN = 999
};

#define MAX_GPUS 16
#define MAX_LINKS 18
#define MAX_CPU_WORDS 16

typedef struct {
    int present, active, version, remote_type;
    char remote_bus[32];
    unsigned long long replay, recovery, crc_flit, crc_data;
} sim_link_t;

typedef struct {
    int index;
    char uuid[96], name[96], bus_id[32];
    unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
    unsigned long long memory;
    int numa_id, pci_numa;
    unsigned long cpus[MAX_CPU_WORDS];
    unsigned int max_gen, max_width, cur_gen, cur_width, gpu_max_gen, replays;
    unsigned int utilization; unsigned long long clock_reasons;
    int ecc_enabled; unsigned long long ecc_uncorrectable, ecc_uncorrectable_aggregate;
    unsigned int retired[2]; /* by cause: multiple single-bit, double-bit */
    int retired_pending;
    unsigned int remapped[4];
    int mig, persistence;
    unsigned int fabric_state; int fabric_status; unsigned char cluster_uuid[16]; unsigned int clique_id, health_mask;
    int error; char error_call[64]; /* this NVML error from calls named so ("*": every call) */
    int link_count;
    sim_link_t links[MAX_LINKS];
    int topo[MAX_GPUS];
} sim_gpu_t;

static struct {
    int initialized;
    char driver[80], nvml[80];
    int cuda;
    unsigned int nvlink_speed;
    int gpu_count;
    sim_gpu_t gpus[MAX_GPUS];
} sim;

typedef sim_gpu_t *nvmlDevice_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
#define NVML_MEMORY_V2 0x02000028u

typedef struct {
    unsigned int version;
    unsigned char clusterUuid[16];
    nvmlReturn_t status;
    unsigned int cliqueId;
    unsigned int state;
    unsigned int healthMask;
    unsigned char healthSummary; /* v3 only */
} nvmlGpuFabricInfo_t;
#define NVML_FABRIC_V2 0x02000024u
#define NVML_FABRIC_V3 0x03000028u

typedef union { double d; unsigned int ui; unsigned long ul; unsigned long long ull; long long sll; int si; } nvmlValue_t;
typedef struct {
    unsigned int fieldId, scopeId;
    long long timestamp, latencyUsec;
    int valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

static void copy_text(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src);
}

static void parse_cpulist(const char *text, unsigned long *words) {
    memset(words, 0, sizeof(unsigned long) * MAX_CPU_WORDS);
    if (strcmp(text, "-") == 0) return;
    const char *p = text;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) break;
        if (*end == '-') { p = end + 1; b = strtol(p, &end, 10); }
        for (long c = a; c <= b && c < (long)(MAX_CPU_WORDS * 64); c++) words[c / 64] |= 1UL << (c % 64);
        p = (*end == ',') ? end + 1 : end;
    }
}

static void parse_uuid(const char *hex, unsigned char *out) {
    for (int i = 0; i < 16; i++) {
        unsigned int byte = 0;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) byte = 0;
        out[i] = (unsigned char)byte;
    }
}

static int load_profile(void) {
    const char *path = getenv("KUBEHAUS_LAB_NVML_PROFILE");
    if (!path || !*path) path = "/etc/kubehaus-lab/nvml-profile";
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    memset(&sim, 0, sizeof sim);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char key[32] = {0}, rest[1000] = {0};
        int idx = -1, n = 0;
        if (sscanf(line, "gpu %d %31s %n", &idx, key, &n) == 2) {
            if (idx < 0 || idx >= MAX_GPUS) continue;
            sim_gpu_t *g = &sim.gpus[idx];
            g->index = idx;
            const char *v = line + n;
            if (!strcmp(key, "uuid")) copy_text(g->uuid, sizeof g->uuid, v);
            else if (!strcmp(key, "name")) copy_text(g->name, sizeof g->name, v);
            else if (!strcmp(key, "pci"))
                sscanf(v, "%31s %u %u %u %u %u", g->bus_id, &g->domain, &g->bus, &g->device,
                       &g->pci_device_id, &g->pci_subsystem_id);
            else if (!strcmp(key, "memory")) sscanf(v, "%llu", &g->memory);
            else if (!strcmp(key, "numa")) sscanf(v, "%d %d", &g->numa_id, &g->pci_numa);
            else if (!strcmp(key, "cpus")) parse_cpulist(v, g->cpus);
            else if (!strcmp(key, "pcie"))
                sscanf(v, "%u %u %u %u %u %u", &g->max_gen, &g->max_width, &g->cur_gen, &g->cur_width, &g->gpu_max_gen,
                       &g->replays);
            else if (!strcmp(key, "load")) sscanf(v, "%u %llu", &g->utilization, &g->clock_reasons);
            else if (!strcmp(key, "ecc"))
                sscanf(v, "%d %llu %llu", &g->ecc_enabled, &g->ecc_uncorrectable, &g->ecc_uncorrectable_aggregate);
            else if (!strcmp(key, "retired")) sscanf(v, "%u %u", &g->retired[0], &g->retired[1]);
            else if (!strcmp(key, "retired_pending")) sscanf(v, "%d", &g->retired_pending);
            else if (!strcmp(key, "remapped"))
                sscanf(v, "%u %u %u %u", &g->remapped[0], &g->remapped[1], &g->remapped[2], &g->remapped[3]);
            else if (!strcmp(key, "mig")) sscanf(v, "%d", &g->mig);
            else if (!strcmp(key, "error")) sscanf(v, "%d %63s", &g->error, g->error_call);
            else if (!strcmp(key, "persistence")) sscanf(v, "%d", &g->persistence);
            else if (!strcmp(key, "fabric")) {
                char hex[64] = {0};
                sscanf(v, "%u %d %63s %u %u", &g->fabric_state, &g->fabric_status, hex, &g->clique_id, &g->health_mask);
                parse_uuid(hex, g->cluster_uuid);
            } else if (!strcmp(key, "link")) {
                int li = -1;
                sim_link_t l = {0};
                if (sscanf(v, "%d %d %d %31s %d %llu %llu %llu %llu", &li, &l.active, &l.version, l.remote_bus,
                           &l.remote_type, &l.replay, &l.recovery, &l.crc_flit, &l.crc_data) == 9
                    && li >= 0 && li < MAX_LINKS) {
                    l.present = 1;
                    g->links[li] = l;
                    if (li + 1 > g->link_count) g->link_count = li + 1;
                }
            } else if (!strcmp(key, "topo")) {
                int other = -1, level = 0;
                if (sscanf(v, "%d %d", &other, &level) == 2 && other >= 0 && other < MAX_GPUS) g->topo[other] = level;
            }
            continue;
        }
        if (sscanf(line, "%31s %999[^\n]", key, rest) < 1) continue;
        if (!strcmp(key, "driver")) copy_text(sim.driver, sizeof sim.driver, rest);
        else if (!strcmp(key, "nvml")) copy_text(sim.nvml, sizeof sim.nvml, rest);
        else if (!strcmp(key, "cuda")) sim.cuda = atoi(rest);
        else if (!strcmp(key, "nvlink_speed")) sim.nvlink_speed = (unsigned int)strtoul(rest, NULL, 10);
        else if (!strcmp(key, "gpu_count")) sim.gpu_count = atoi(rest);
    }
    fclose(f);
    if (sim.gpu_count > MAX_GPUS) sim.gpu_count = MAX_GPUS;
    return 1;
}

#define REQUIRE_INIT() do { if (!sim.initialized) return NVML_ERROR_UNINITIALIZED; } while (0)
/* A GPU's own error (GPU_IS_LOST after Xid 79) answers every call it names, by name prefix, so
 * nvmlDeviceGetPciInfo covers nvmlDeviceGetPciInfo_v3; the other GPUs answer normally. */
static int gpu_error(const sim_gpu_t *d, const char *function) {
    if (!d->error) return 0;
    if (!strcmp(d->error_call, "*") || !strncmp(function, d->error_call, strlen(d->error_call))) return d->error;
    return 0;
}
#define REQUIRE_DEV(d) do { REQUIRE_INIT(); if (!(d) || (d) < sim.gpus || (d) >= sim.gpus + sim.gpu_count) return NVML_ERROR_INVALID_ARGUMENT; \
    if (gpu_error((d), __func__)) return gpu_error((d), __func__); } while (0)
#define REQUIRE_PTR(p) do { if (!(p)) return NVML_ERROR_INVALID_ARGUMENT; } while (0)

static nvmlReturn_t copy_out(char *dst, unsigned int len, const char *src) {
    REQUIRE_PTR(dst);
    if (strlen(src) + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_VERSION_MISMATCH: return "Version Mismatch";
    default: return "Unknown Error";
    }
}

/* A driver installed from the mirror's package: the library's version is the package's, the kernel
 * module's is what was loaded at boot (or at first install). After a driver upgrade without a
 * reboot they differ, and NVML refuses, as the real one does ("Driver/library version mismatch").
 * Without these files (a driver provisioned with the machine) the profile's versions stand. */
static int read_version(const char *env, const char *fallback, char *out, size_t size) {
    const char *path = getenv(env);
    if (!path || !*path) path = fallback;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[80] = {0};
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (!ok || !line[0]) return 0;
    copy_text(out, size, line);
    return 1;
}

static nvmlReturn_t apply_installed_driver(void) {
    char module[80] = {0}, library[80] = {0};
    int have_module = read_version("KUBEHAUS_LAB_NVIDIA_MODULE", "/run/kubehaus-lab/nvidia-module", module, sizeof module);
    int have_library = read_version("KUBEHAUS_LAB_NVIDIA_LIBRARY", "/usr/lib/kubehaus-standin/nvidia-driver/version",
                                    library, sizeof library);
    if (have_library && !have_module) return NVML_ERROR_DRIVER_NOT_LOADED;
    if (have_library && strcmp(module, library) != 0) return NVML_ERROR_LIB_RM_VERSION_MISMATCH;
    if (have_module) copy_text(sim.driver, sizeof sim.driver, module);
    if (have_library) { /* NVML's version is the CUDA major, then the library's driver version */
        const char *dot = strchr(sim.nvml, '.');
        char prefix[16] = "13";
        if (dot && dot - sim.nvml < (long)sizeof prefix) { memcpy(prefix, sim.nvml, dot - sim.nvml); prefix[dot - sim.nvml] = 0; }
        snprintf(sim.nvml, sizeof sim.nvml, "%s.%s", prefix, library);
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    if (!load_profile()) return NVML_ERROR_DRIVER_NOT_LOADED;
    nvmlReturn_t installed = apply_installed_driver();
    if (installed != NVML_SUCCESS) return installed;
    sim.initialized = 1;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlShutdown(void) { REQUIRE_INIT(); sim.initialized = 0; return NVML_SUCCESS; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int len) { REQUIRE_INIT(); return copy_out(v, len, sim.driver); }
nvmlReturn_t nvmlSystemGetNVMLVersion(char *v, unsigned int len) { REQUIRE_INIT(); return copy_out(v, len, sim.nvml); }
nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { REQUIRE_INIT(); REQUIRE_PTR(v); *v = sim.cuda; return NVML_SUCCESS; }
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return nvmlSystemGetCudaDriverVersion(v); }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { REQUIRE_INIT(); REQUIRE_PTR(count); *count = (unsigned int)sim.gpu_count; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return nvmlDeviceGetCount_v2(count); }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    REQUIRE_INIT(); REQUIRE_PTR(device);
    if (index >= (unsigned int)sim.gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpu_error(&sim.gpus[index], __func__)) return gpu_error(&sim.gpus[index], __func__);
    *device = &sim.gpus[index];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) { return nvmlDeviceGetHandleByIndex_v2(index, device); }

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned int *index) { REQUIRE_DEV(d); REQUIRE_PTR(index); *index = (unsigned int)d->index; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len) { REQUIRE_DEV(d); return copy_out(name, len, d->name); }
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int len) { REQUIRE_DEV(d); return copy_out(uuid, len, d->uuid); }

static void fill_pci(nvmlPciInfo_t *p, const char *bus_id, unsigned int domain, unsigned int bus, unsigned int device,
                     unsigned int dev_id, unsigned int subsys) {
    memset(p, 0, sizeof *p);
    copy_text(p->busIdLegacy, sizeof p->busIdLegacy, bus_id + (strlen(bus_id) > 12 ? 4 : 0));
    copy_text(p->busId, sizeof p->busId, bus_id);
    p->domain = domain; p->bus = bus; p->device = device; p->pciDeviceId = dev_id; p->pciSubSystemId = subsys;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p) {
    REQUIRE_DEV(d); REQUIRE_PTR(p);
    fill_pci(p, d->bus_id, d->domain, d->bus, d->device, d->pci_device_id, d->pci_subsystem_id);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t d, nvmlPciInfo_t *p) { return nvmlDeviceGetPciInfo_v3(d, p); }

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
    REQUIRE_DEV(d); REQUIRE_PTR(m);
    m->total = d->memory; m->used = 0; m->free = d->memory;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    REQUIRE_DEV(d); REQUIRE_PTR(m);
    if (m->version != NVML_MEMORY_V2) return NVML_ERROR_VERSION_MISMATCH;
    m->total = d->memory; m->reserved = d->memory / 200; m->used = 0; m->free = d->memory - m->reserved;
    return NVML_SUCCESS;
}

static sim_link_t *get_link(nvmlDevice_t d, unsigned int link) {
    if (link >= MAX_LINKS || !d->links[link].present) return NULL;
    return &d->links[link];
}
#define REQUIRE_LINK(d, l, out) do { if (!(d)->link_count) return NVML_ERROR_NOT_SUPPORTED; \
    (out) = get_link((d), (l)); if (!(out)) return NVML_ERROR_INVALID_ARGUMENT; } while (0)

nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t d, unsigned int link, int *active) {
    REQUIRE_DEV(d); REQUIRE_PTR(active); sim_link_t *l; REQUIRE_LINK(d, link, l);
    *active = l->active; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t d, unsigned int link, unsigned int *version) {
    REQUIRE_DEV(d); REQUIRE_PTR(version); sim_link_t *l; REQUIRE_LINK(d, link, l);
    *version = (unsigned int)l->version; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t d, unsigned int link, nvmlPciInfo_t *p) {
    REQUIRE_DEV(d); REQUIRE_PTR(p); sim_link_t *l; REQUIRE_LINK(d, link, l);
    unsigned int domain = 0, bus = 0, dev = 0, fn = 0;
    sscanf(l->remote_bus, "%x:%x:%x.%x", &domain, &bus, &dev, &fn);
    fill_pci(p, l->remote_bus, domain, bus, dev, 0, 0);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t d, unsigned int link, int *type) {
    REQUIRE_DEV(d); REQUIRE_PTR(type); sim_link_t *l; REQUIRE_LINK(d, link, l);
    *type = l->remote_type; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t d, unsigned int link, int counter, unsigned long long *value) {
    REQUIRE_DEV(d); REQUIRE_PTR(value); sim_link_t *l; REQUIRE_LINK(d, link, l);
    switch (counter) {
    case 0: *value = l->replay; break;
    case 1: *value = l->recovery; break;
    case 2: *value = l->crc_flit; break;
    case 3: *value = l->crc_data; break;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
    return NVML_SUCCESS;
}

static void field(nvmlDevice_t d, nvmlFieldValue_t *f) {
    sim_link_t *l = NULL;
    f->timestamp = 0; f->latencyUsec = 0; f->nvmlReturn = NVML_SUCCESS;
    switch (f->fieldId) {
    case 90: /* NVLINK_SPEED_MBPS_COMMON */
    case 91: /* NVLINK_LINK_COUNT */
        if (!d->link_count) { f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; return; }
        f->valueType = 1; f->value.ui = f->fieldId == 90 ? sim.nvlink_speed : (unsigned int)d->link_count; return;
    case 142: case 143: case 144: case 145:
        f->valueType = 1; f->value.ui = d->remapped[f->fieldId - 142]; return;
    case 161: case 162: case 163: case 164: case 165:
        if (!d->link_count) { f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; return; }
        l = get_link(d, f->scopeId);
        if (!l) { f->nvmlReturn = NVML_ERROR_INVALID_ARGUMENT; return; }
        if (f->fieldId == 164) { f->valueType = 1; f->value.ui = l->active ? sim.nvlink_speed : 0; return; }
        if (f->fieldId == 165) { f->valueType = 1; f->value.ui = (unsigned int)l->active; return; }
        f->valueType = 3;
        f->value.ull = f->fieldId == 161 ? l->replay : f->fieldId == 162 ? l->recovery : l->crc_flit + l->crc_data;
        return;
    default:
        f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
    }
}
nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *values) {
    REQUIRE_DEV(d); REQUIRE_PTR(values);
    if (count < 0) return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < count; i++) field(d, &values[i]);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t a, nvmlDevice_t b, int *level) {
    REQUIRE_DEV(a); REQUIRE_DEV(b); REQUIRE_PTR(level);
    *level = a == b ? 0 : a->topo[b->index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t d, unsigned int size, unsigned long *set) {
    REQUIRE_DEV(d); REQUIRE_PTR(set);
    for (unsigned int i = 0; i < size; i++) set[i] = i < MAX_CPU_WORDS ? d->cpus[i] : 0;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t d, unsigned int size, unsigned long *set, int scope) {
    (void)scope; return nvmlDeviceGetCpuAffinity(d, size, set);
}
nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t d, unsigned int size, unsigned long *set, int scope) {
    REQUIRE_DEV(d); REQUIRE_PTR(set); (void)scope;
    memset(set, 0, sizeof(unsigned long) * size);
    if (d->pci_numa >= 0 && (unsigned int)d->pci_numa / 64 < size) set[d->pci_numa / 64] |= 1UL << (d->pci_numa % 64);
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t d, unsigned int *node) {
    REQUIRE_DEV(d); REQUIRE_PTR(node);
    if (d->numa_id < 0) return NVML_ERROR_NOT_SUPPORTED;
    *node = (unsigned int)d->numa_id; return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t d, nvmlGpuFabricInfo_t *info) {
    REQUIRE_DEV(d); REQUIRE_PTR(info);
    if (info->version != NVML_FABRIC_V2 && info->version != NVML_FABRIC_V3) return NVML_ERROR_VERSION_MISMATCH;
    if (d->fabric_state == 0) return NVML_ERROR_NOT_SUPPORTED;
    memcpy(info->clusterUuid, d->cluster_uuid, 16);
    info->status = d->fabric_status; info->cliqueId = d->clique_id; info->state = d->fabric_state; info->healthMask = d->health_mask;
    if (info->version == NVML_FABRIC_V3) info->healthSummary = (d->health_mask & 0x55) ? 2 : 1; /* any TRUE: unhealthy */
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->max_gen; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->max_width; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->cur_gen; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->cur_width; return NVML_SUCCESS; }
/* The GPU's own maximum; nvmlDeviceGetMaxPcieLinkGeneration is what device and system can do together. */
nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->gpu_max_gen; return NVML_SUCCESS; }
nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t d, unsigned int *v) { REQUIRE_DEV(d); REQUIRE_PTR(v); *v = d->replays; return NVML_SUCCESS; }

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    REQUIRE_DEV(d); REQUIRE_PTR(u); u->gpu = d->utilization; u->memory = d->utilization / 2; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
    REQUIRE_DEV(d); REQUIRE_PTR(reasons); *reasons = d->clock_reasons; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *reasons) {
    return nvmlDeviceGetCurrentClocksEventReasons(d, reasons);
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d, int *current, int *pending) {
    REQUIRE_DEV(d); REQUIRE_PTR(current); REQUIRE_PTR(pending);
    *current = *pending = d->ecc_enabled; return NVML_SUCCESS;
}
/* counter_type 0 VOLATILE (since the driver loaded), 1 AGGREGATE (lifetime); error_type 1 UNCORRECTED */
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int error_type, int counter_type, unsigned long long *count) {
    REQUIRE_DEV(d); REQUIRE_PTR(count);
    if (!d->ecc_enabled) return NVML_ERROR_NOT_SUPPORTED;
    if (counter_type != 0 && counter_type != 1) return NVML_ERROR_INVALID_ARGUMENT;
    *count = error_type != 1 ? 0 : counter_type ? d->ecc_uncorrectable_aggregate : d->ecc_uncorrectable;
    return NVML_SUCCESS;
}
/* cause 0 MULTIPLE_SINGLE_BIT_ECC_ERRORS, 1 DOUBLE_BIT_ECC_ERROR; a short buffer answers INSUFFICIENT_SIZE */
nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t d, int cause, unsigned int *count, unsigned long long *addresses) {
    REQUIRE_DEV(d); REQUIRE_PTR(count);
    if (cause != 0 && cause != 1) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int pages = d->retired[cause], room = *count;
    *count = pages;
    if (!addresses || room < pages) return pages ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    for (unsigned int i = 0; i < pages; i++) addresses[i] = 0x1000ULL * (i + 1) + (unsigned long long)cause * 0x100000ULL;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t d, int *pending) {
    REQUIRE_DEV(d); REQUIRE_PTR(pending); *pending = d->retired_pending; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *corr, unsigned int *unc, unsigned int *pending,
                                       unsigned int *failure) {
    REQUIRE_DEV(d); REQUIRE_PTR(corr); REQUIRE_PTR(unc); REQUIRE_PTR(pending); REQUIRE_PTR(failure);
    *corr = d->remapped[0]; *unc = d->remapped[1]; *pending = d->remapped[2]; *failure = d->remapped[3];
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    REQUIRE_DEV(d); REQUIRE_PTR(current); REQUIRE_PTR(pending); *current = *pending = (unsigned int)d->mig; return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t d, int *mode) {
    REQUIRE_DEV(d); REQUIRE_PTR(mode); *mode = d->persistence; return NVML_SUCCESS;
}
