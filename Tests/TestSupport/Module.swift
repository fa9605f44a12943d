import MQTTWire
public enum TestSupportModule {}
