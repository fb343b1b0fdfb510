//! A Python interpreter that imports an official Supabase client: the system `python3` if it
//! has the package, otherwise a venv under the cargo target directory with the package
//! installed from PyPI. `Err` (with the reason) when neither can be had (offline machine).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn venv_dir(name: &str) -> PathBuf {
    // tests run from target/<profile>/deps/...: put the venv next to them.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("."));
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
        .join(name)
}

/// A python that can `import module`, installing `requirement` into venv `venv` if needed.
pub fn python_with(module: &str, requirement: &str, venv: &str) -> Result<PathBuf, String> {
    let system = PathBuf::from("python3");
    if imports(&system, module) {
        return Ok(system);
    }
    let venv = venv_dir(venv);
    let py = venv.join("bin").join("python");
    if imports(&py, module) {
        return Ok(py);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("python3 not available: {e}"))?;
    if !made.success() {
        return Err("python3 -m venv failed".into());
    }
    let out = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ])
        .env("PIP_NO_INPUT", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("pip not runnable: {e}"))?;
    if !out.status.success() || !imports(&py, module) {
        return Err(format!(
            "pip install {requirement} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(py)
}
