public enum MQTTWireModule {}
