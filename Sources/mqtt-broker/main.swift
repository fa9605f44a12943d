import BrokerRuntime
print("mqtt-broker (libuv \(BrokerRuntimeModule.libuvVersion()))")
