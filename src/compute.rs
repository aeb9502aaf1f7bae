//! The one place that chooses where tensors live: burn's wgpu backend on a real GPU adapter, or
//! burn's CPU backend (`flex`).
//!
//! The probe lists adapters itself (Vulkan, Metal and DirectX 12 only: wgpu's GL backend was
//! seen to hang in `Device::poll` and to deadlock on the first autodiff step), skips software
//! rasterisers such as llvmpipe unless the user forces the GPU, then initialises burn on the
//! chosen adapter and runs one small tensor operation to prove it works. It runs on its own
//! thread under a time limit, so a driver that hangs costs the app a few seconds of "probing…",
//! never a frozen window.

use std::sync::mpsc;
use std::time::Duration;

use burn::tensor::wgpu::{WgpuBackend, wgpu};
use burn::tensor::{Device, DeviceKind, Tensor};

/// What the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceChoice {
    /// A real GPU when one exists, else the CPU.
    #[default]
    Auto,
    /// Always burn's CPU backend.
    Cpu,
    /// The GPU, even a software adapter; the CPU only when there is no adapter at all.
    Gpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!("unknown device '{other}': use auto, cpu or gpu")),
        }
    }
}

/// A graphics adapter as wgpu reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterReport {
    /// Adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: "Vulkan", "Metal", "Dx12".
    pub api: String,
    /// True for a software rasteriser (llvmpipe, lavapipe, WARP).
    pub software: bool,
}

/// The device tensors will use, and why.
#[derive(Clone, Debug)]
pub enum ComputeDevice {
    /// burn's wgpu backend on this adapter.
    Gpu {
        /// The adapter in use.
        adapter: AdapterReport,
        /// The burn device.
        device: Device,
    },
    /// burn's CPU backend, with the reason no GPU is used.
    Cpu {
        /// Why the CPU was chosen ("no GPU adapter: …", "forced by --device cpu", …).
        reason: String,
        /// The burn device.
        device: Device,
    },
}

impl ComputeDevice {
    /// The CPU device with a reason.
    pub fn cpu(reason: impl Into<String>) -> Self {
        Self::Cpu {
            reason: reason.into(),
            device: Device::flex(),
        }
    }

    /// The status-bar text: `GPU: <adapter>` or `CPU (<reason>)`.
    pub fn label(&self) -> String {
        match self {
            Self::Gpu { adapter, .. } if adapter.software => {
                format!("GPU: {} (software, {})", adapter.name, adapter.api)
            }
            Self::Gpu { adapter, .. } => format!("GPU: {} ({})", adapter.name, adapter.api),
            Self::Cpu { reason, .. } => format!("CPU ({reason})"),
        }
    }

    /// The burn device to create tensors on.
    pub fn device(&self) -> &Device {
        match self {
            Self::Gpu { device, .. } | Self::Cpu { device, .. } => device,
        }
    }

    /// True when burn's wgpu backend is used.
    pub fn is_gpu(&self) -> bool {
        matches!(self, Self::Gpu { .. })
    }
}

/// Graphics APIs the probe considers: never GL (see the module documentation).
fn compute_backends() -> wgpu::Backends {
    wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12
}

/// Lists the adapters of the compute backends, best first (discrete, integrated, virtual,
/// other, software).
pub fn list_adapters() -> Vec<(AdapterReport, wgpu::DeviceType, wgpu::Backend)> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = compute_backends();
    let instance = wgpu::Instance::new(descriptor);
    let adapters = pollster::block_on(instance.enumerate_adapters(compute_backends()));
    let mut reports: Vec<_> = adapters
        .iter()
        .map(|adapter| {
            let info = adapter.get_info();
            let report = AdapterReport {
                name: info.name.clone(),
                api: format!("{:?}", info.backend),
                software: info.device_type == wgpu::DeviceType::Cpu,
            };
            (report, info.device_type, info.backend)
        })
        .collect();
    let rank = |t: &wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    reports.sort_by_key(|(report, kind, _)| (rank(kind), report.name.clone()));
    reports
}

/// Where the GPU's autotune results (and compiled kernels, where cubecl's compilation cache is
/// turned on) are kept between launches: the user's cache folder. cubecl's default is a
/// `target/` folder found from the working directory (the user cache only when there is none),
/// so an installed app started inside some Rust project would write into that project's
/// `target/`. `None` where the platform has no cache folder.
pub fn kernel_cache_dir() -> Option<std::path::PathBuf> {
    dirs::cache_dir().map(|d| d.join("muselab").join("gpu-kernels"))
}

/// Points cubecl's persistent caches at [`kernel_cache_dir`]. A `cubecl.toml` (or `burn.toml`)
/// the user wrote, and cubecl's environment variables, still apply; an explicit cache path in
/// them wins. Must run before the first GPU device starts; later calls do nothing.
///
/// Measured on Mesa's software Vulkan adapter (`muselab bench --model autoencoder --device gpu`
/// from an empty cache, then again; 2-core Xeon, with a test suite running beside it): the
/// persistent autotune cache is what makes a second launch fast (warm-up 71 s → 15 s);
/// turning cubecl's compiled-kernel cache on as well gave nothing measurable (87 s → 24 s;
/// Mesa keeps compiled shaders in its own cache), so it stays at cubecl's default (off).
pub fn configure_kernel_cache() {
    use cubecl_runtime::config::cache::CacheConfig;
    use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if matches!(config.environment.path, CacheConfig::Target)
            && let Some(dir) = kernel_cache_dir()
        {
            config.environment.path = CacheConfig::Directory(dir);
        }
        // False when cubecl read its configuration already (a device started before): the
        // caches then stay where cubecl put them.
        if !CubeClRuntimeConfig::try_set(config) {
            log::warn!("GPU kernel cache: cubecl was configured before muselab could set it");
        }
    });
}

/// Initialises burn's wgpu runtime on the adapter and checks it with a tiny computation.
fn init_wgpu(kind: wgpu::DeviceType, backend: wgpu::Backend) -> Result<Device, String> {
    configure_kernel_cache();
    let api = match backend {
        wgpu::Backend::Vulkan => WgpuBackend::Vulkan,
        wgpu::Backend::Metal => WgpuBackend::Metal,
        wgpu::Backend::Dx12 => WgpuBackend::Dx12,
        other => return Err(format!("graphics API {other:?} is not used for compute")),
    };
    let device_kind = match kind {
        wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(0),
        wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(0),
        wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(0),
        wgpu::DeviceType::Cpu => DeviceKind::Cpu,
        wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
    };
    let device = Device::wgpu_options()
        .graphics_api(api)
        .device_kind(device_kind)
        .init()
        .map_err(|e| format!("burn could not start wgpu: {e}"))?;
    let sum = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device)
        .sum()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("test computation failed: {e:?}"))?;
    if sum.first().is_some_and(|s| (s - 6.0).abs() < 1e-4) {
        Ok(device)
    } else {
        Err(format!("test computation gave {sum:?} instead of 6"))
    }
}

/// Probes synchronously (call it off the UI thread; [`probe_with_timeout`] does).
pub fn probe(choice: DeviceChoice) -> ComputeDevice {
    if choice == DeviceChoice::Cpu {
        return ComputeDevice::cpu("forced by the user");
    }
    let adapters = list_adapters();
    let Some((report, kind, backend)) = adapters.into_iter().next() else {
        return ComputeDevice::cpu("no GPU adapter: no Vulkan, Metal or DirectX 12 adapter found");
    };
    if report.software && choice == DeviceChoice::Auto {
        return ComputeDevice::cpu(format!(
            "no GPU adapter: only the software adapter {} was found; choose the GPU to use it anyway",
            report.name
        ));
    }
    match init_wgpu(kind, backend) {
        Ok(device) => ComputeDevice::Gpu {
            adapter: report,
            device,
        },
        Err(reason) => {
            ComputeDevice::cpu(format!("no GPU adapter: {} failed: {reason}", report.name))
        }
    }
}

/// Probes on a named thread and gives up after `limit`, falling back to the CPU. A probe that
/// hangs inside a driver is left behind on its thread.
pub fn probe_with_timeout(choice: DeviceChoice, limit: Duration) -> ComputeDevice {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("device-probe".into())
        .spawn(move || {
            let _ = tx.send(probe(choice));
        });
    if let Err(e) = spawned {
        return ComputeDevice::cpu(format!("no GPU adapter: cannot start the probe: {e}"));
    }
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        ComputeDevice::cpu(format!(
            "no GPU adapter: the probe did not answer within {} s",
            limit.as_secs()
        ))
    })
}

/// How long the app waits for the probe before settling on the CPU.
pub const PROBE_LIMIT: Duration = Duration::from_secs(20);

/// Lowers the calling thread's scheduling priority (nice 10) on Linux, where the nice value
/// belongs to the thread: the training thread and the compute pool then give way to the UI
/// thread when they fill every core (on 2 cores, UI frames that took 70 ms while the LSTM
/// trained). Elsewhere it does nothing.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its three integer arguments; `who` = 0 names the calling
    // thread. A failure (not permitted) leaves the priority as it was, which is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// Builds rayon's global pool, which runs burn's CPU kernels, the LSTM kernel and the fused
/// Adam update, with its threads at background priority ([`lower_thread_priority`]). The app
/// calls it first thing; once the pool exists (any parallel work has run) it does nothing.
pub fn background_compute_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("compute-{i}"))
        .start_handler(|_| lower_thread_priority())
        .build_global();
}

/// This machine in words, for figures that say where they were measured: the CPU's model name,
/// its core count and the widest vector unit that burn's kernels can use ("AMD EPYC 7B13
/// (2 cores, AVX2)"). Where /proc/cpuinfo does not exist, the architecture and core count.
pub fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let flags = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let width = if has("avx512f") {
        ", AVX-512"
    } else if has("avx2") {
        ", AVX2"
    } else if flags.is_empty() {
        ""
    } else {
        ", SSE"
    };
    format!("{name} ({cores} cores{width})")
}
