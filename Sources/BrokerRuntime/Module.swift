import CLibUV
import BrokerCore
public enum BrokerRuntimeModule { public static func libuvVersion() -> String { String(cString: uv_version_string()) } }
