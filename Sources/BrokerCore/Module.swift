import MQTTWire
public enum BrokerCoreModule {}
