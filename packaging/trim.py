"""What the bundle leaves out: modules the app never imports and files it never opens.

Pure data and one pure filter, shared by the specs and checked by tests. Every entry was
chosen from a measured build (see packaging/README.md): a module here is either never
imported by the app, or imported only by test/dev code paths.
"""
from __future__ import annotations

from fnmatch import fnmatch

# Modules PyInstaller would otherwise follow into (dev tools, notebooks, other GUI kits, test suites).
EXCLUDED_MODULES = [
    "tkinter", "_tkinter", "matplotlib", "IPython", "jupyter_client", "notebook", "ipykernel",
    "pytest", "_pytest", "pytestqt", "hypothesis", "expecttest",  # not pluggy: sqlite_utils uses it
    "tests", "torch.utils.tensorboard", "tensorboard", "torchvision",
    "llama_cpp.server",  # the OpenAI-compatible server (fastapi/uvicorn): the app calls llama.cpp in-process
    "PyInstaller",
    # Qt: the app uses QtCore, QtGui, QtWidgets (and QtSvg for icons); nothing else
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2", "PySide6.QtQuickTest", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets",
    "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDBus", "PySide6.QtDesigner", "PySide6.QtHelp",
    "PySide6.QtPrintSupport", "PySide6.QtUiTools", "PySide6.QtConcurrent", "PySide6.QtXml",
    "PySide6.QtSvgWidgets", "PySide6.Qt3DCore", "PySide6.QtWebEngineCore", "PySide6.QtMultimedia",
]

# Collected files (by their path inside the bundle) that nothing opens at run time.
CUDA_FILES = [
    "libcudart*", "libcublas*", "libcudnn*", "libnvrtc*", "*/libcudart*", "*/libcublas*", "*/libcudnn*", "*/libnccl*", "*/libcusparse*", "*/libcufft*",
    "*/libcurand*", "*/libnvrtc*", "*/libnvJitLink*", "*/libcusolver*", "nvidia/*", "triton/*",
    "torch/lib/libtorch_cuda*", "torch/lib/libc10_cuda*", "torch/lib/cudart*", "torch/lib/cublas*",
    "torch/lib/cudnn*", "torch/lib/nvrtc*", "torch/lib/cufft*", "torch/lib/curand*", "torch/lib/cusparse*",
    "torch/lib/cusolver*", "torch/lib/nvJitLink*", "torch/lib/torch_cuda*", "torch/lib/c10_cuda*",
]
EXCLUDED_FILES = [
    "torch/include/*", "torch/test/*", "torch/share/*", "*.pyi",
    # torch/bin: C++ test binaries and protoc; torch_shm_manager stays (torch.multiprocessing needs it)
    "torch/bin/test_*", "torch/bin/*Test", "torch/bin/protoc*", "torch/bin/*.pt", "torch/bin/*.ptl",
    "torch/lib/libtorchbind_test.so", "torch/lib/libaoti_custom_ops.so", "torch/lib/libbackend_with_compiler.so",
    "PySide6/Qt/qml/*", "PySide6/Qt/translations/qtwebengine*", "PySide6/Qt/lib/libQt6Quick*",
    "PySide6/Qt/lib/libQt6Qml*", "PySide6/Qt/lib/libQt6Pdf*", "PySide6/Qt/lib/libQt6WebEngine*",
    "PySide6/Qt/lib/libQt6Designer*", "PySide6/Qt/plugins/imageformats/libqpdf.so",
    # platform plugins for kiosk/embedded/VNC use (and their libraries); the app runs on xcb or wayland
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/*", "libQt6EglFS*", "libQt6EglFsKmsSupport*",
    "PySide6/Qt/lib/libQt6EglFS*", "PySide6/Qt/lib/libQt6EglFsKmsSupport*",
    "PySide6/Qt/plugins/imageformats/libqtiff.so", "PySide6/Qt/plugins/imageformats/libqtga.so",
    "PySide6/Qt/plugins/imageformats/libqwbmp.so", "PySide6/Qt/plugins/imageformats/libqicns.so",
    "PySide6/Qt/plugins/sqldrivers/*", "PySide6/Qt/plugins/qmltooling/*", "PySide6/Qt/plugins/designer/*",
    "*/__pycache__/*",
]


CUDA_MODULES = ["triton"]


def excluded_modules(keep_cuda: bool = False) -> list[str]:
    """Modules to exclude; a CUDA build (Windows/Linux GPU) keeps triton."""
    return EXCLUDED_MODULES + ([] if keep_cuda else CUDA_MODULES)


def is_excluded(dest: str, keep_cuda: bool = False) -> bool:
    """True when a bundle path matches EXCLUDED_FILES (or CUDA_FILES in a CPU build)."""
    dest = dest.replace("\\", "/")
    patterns = EXCLUDED_FILES if keep_cuda else EXCLUDED_FILES + CUDA_FILES
    return any(fnmatch(dest, pattern) for pattern in patterns)


def filter_toc(toc, keep_cuda: bool = False):
    """Drop excluded entries from a PyInstaller TOC ((dest, source, typecode) tuples)."""
    return [entry for entry in toc if not is_excluded(entry[0], keep_cuda)]
